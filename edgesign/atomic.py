"""Write files so that a failure never leaves a partial output behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a written file gets the mode open() would give it
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _remove_orphans(path: Path) -> None:
    """Temporary files of ``path`` left by a writer that was killed (SIGKILL, power loss): their process is gone."""
    for part in path.parent.glob(f".{path.name}.*.part"):
        pid = part.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                part.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def check_output(path: str | os.PathLike | None, kind: str = "file", option: str = "-o") -> None:
    """Refuse, before any work, an output path that cannot be written: a file where a folder is wanted or the
    other way round, a path under a file, a folder that cannot be written to. Nothing is created here."""
    from .errors import EdgesignError

    if path is None:
        return
    p = Path(path)
    if kind == "file" and p.is_dir():
        raise EdgesignError(f"{option} {p} is a folder; give a file name")
    if kind == "dir" and p.exists() and not p.is_dir():
        raise EdgesignError(f"{option} {p} is an existing file; give a folder")
    folder = p if kind == "dir" else p.parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise EdgesignError(f"{option} {p}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or str(existing.resolve()).startswith(("/proc", "/sys")):
        raise EdgesignError(f"{option} {p}: cannot write in {existing}")
    if kind == "file" and p.exists() and not os.access(p, os.W_OK) and not os.access(folder, os.W_OK):
        raise EdgesignError(f"{option} {p}: the file cannot be replaced")
