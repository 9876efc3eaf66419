"""Frame sources behind one interface: image files, folders and globs, video files, cameras.

Picamera2 is the Pi camera stack (OpenCV's VideoCapture does not open the CSI camera under
libcamera); USB webcams, video files and stream URLs go through OpenCV. Both are optional
(the 'camera' extra, or ``sudo apt install python3-picamera2`` on a Pi).
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from .data import IMAGE_SUFFIXES
from .errors import EdgesignError, MissingExtra
from .prefetch import drain, put_unless_stopped

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mjpeg", ".mjpg"}
_MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES  # what a folder given to predict is searched for
FRAME_TIMEOUT_S = 5.0


@dataclass
class Frame:
    source: str  # file name, or "video.mp4#12", or "camera:0#12"
    image: np.ndarray | None  # RGB or grayscale uint8, decoded (None for still images: see path)
    path: Path | None = None  # still images are decoded by the model's own loader
    stream: bool = False
    index: int = 0


LIST_SUFFIXES = {".txt", ".lst"}


def listed_paths(source: str) -> list[str]:
    """The paths of a list: ``-`` reads them from standard input, a ``.txt`` file one a line (relative to
    the list's folder); blank lines and lines starting with ``#`` are skipped."""
    import sys

    if source == "-":
        text, base = sys.stdin.read(), Path.cwd()
    else:
        try:
            text, base = Path(source).read_text(encoding="utf-8"), Path(source).parent
        except (OSError, UnicodeDecodeError) as exc:
            raise EdgesignError(f"cannot read the list {source}: {exc}") from None
    lines = [line.strip() for line in text.splitlines()]
    paths = [str(base / line) if not Path(line).is_absolute() else line for line in lines if line and not line.startswith("#")]
    if not paths:
        raise EdgesignError(f"no paths in {'standard input' if source == '-' else source}")
    return paths


def expand_images(sources: list[str]) -> list[Path]:
    """Image (and video) files named directly, by glob, found in folders (recursively, sorted), or listed in a
    ``.txt`` file or on standard input (``-``)."""
    out: list[Path] = []
    for s in sources:
        p = Path(s)
        if s == "-" or (p.suffix.lower() in LIST_SUFFIXES and p.is_file()):
            out.extend(expand_images(listed_paths(s)))
        elif any(ch in s for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(s, recursive=True))
            if not matches:
                raise EdgesignError(f"no files match {s}")
            out.extend(m for m in matches if m.is_file())
        elif p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in _MEDIA_SUFFIXES and f.is_file())
            if not found:
                raise EdgesignError(f"no images or videos in {p}")
            out.extend(found)
        elif p.exists():
            if not p.is_file():
                raise EdgesignError(f"not a regular file (a pipe or a device?): {s}")
            out.append(p)
        else:
            raise EdgesignError(f"not found: {s}")
    return out


def video_frame_count(path: Path) -> int:
    """How many frames a video file holds (its container's count; the frames decoded when it says none)."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise EdgesignError(f"cannot open video {path}")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if n <= 0:
            n = 0
            while cap.grab():
                n += 1
        return n
    finally:
        cap.release()


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def iter_frames(sources: list[str], max_frames: int | None = None) -> Iterator[Frame]:
    """Frames from image files (decoded lazily) and video files, in the order given; ``max_frames``: at most that
    many of each video."""
    for p in expand_images(sources):
        if is_video(p):
            yield from first_frames(opencv_frames(str(p), p.name), max_frames)
        else:
            yield Frame(str(p), None, path=p)


def first_frames(frames: Iterator[Frame], n: int | None) -> Iterator[Frame]:
    """The first ``n`` of a stream's ``frames`` (all of them when None); the stream is closed there (a video shut,
    a camera released)."""
    with closing(frames):
        yield from islice(frames, n)


def _cv2():
    """OpenCV, quiet unless --verbose: its own warnings and FFmpeg's (a camera index that does not open, a backend
    missing, a stream URL refused) would come before the one error line; ``OPENCV_LOG_LEVEL`` set by the user wins."""
    if not os.environ.get("EDGESIGN_VERBOSE"):
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own (AV_LOG_QUIET): "[tcp @ 0x..] refused"
    try:
        import cv2
    except ImportError:
        raise MissingExtra("video files and USB cameras", "camera") from None
    return cv2


def opencv_frames(target: str | int, name: str | None = None, timeout: float = FRAME_TIMEOUT_S) -> Iterator[Frame]:
    """Frames of a video file, a stream URL or a camera index, as RGB arrays."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(target)
    label = name or (f"camera:{target}" if isinstance(target, int) else str(target))
    is_camera = isinstance(target, int) or "://" in str(target)
    if not cap.isOpened():
        what = "camera" if isinstance(target, int) else "stream" if is_camera else "video"
        raise EdgesignError(f"cannot open {what} {target}")
    # A camera is read on its own thread, which also releases it: releasing a capture while another
    # thread is blocked in its read() crashes OpenCV.
    reader = _ThreadedReader(cap.read, close=cap.release) if is_camera else None
    try:
        i = 0
        while True:
            ok, bgr = reader.read(timeout) if reader else cap.read()
            if not ok or bgr is None:
                if is_camera:
                    raise EdgesignError(f"{label} stopped delivering frames")
                if i == 0:
                    raise EdgesignError(f"cannot read frames from video {target}")
                return
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 else bgr
            yield Frame(f"{label}#{i}", rgb, stream=True, index=i)
            i += 1
    finally:
        if reader:
            reader.stop()
        else:
            cap.release()


def _picamera2():
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise EdgesignError("the Pi camera needs Picamera2: sudo apt install python3-picamera2 "
                            "(create the venv with --system-site-packages)") from None
    return Picamera2


def camera_software(spec: str) -> None:
    """Raises when what reads the camera ``spec`` names is not installed (Picamera2, OpenCV); opens nothing."""
    _picamera2() if spec == "pi" else _cv2()


def picamera_frames(size: tuple[int, int] = (640, 480), timeout: float = FRAME_TIMEOUT_S) -> Iterator[Frame]:
    """Frames of the Raspberry Pi camera through Picamera2 (libcamera)."""
    Picamera2 = _picamera2()
    try:
        cam = Picamera2()
        cam.configure(cam.create_video_configuration(main={"size": size, "format": "RGB888"}))
        cam.start()
    except (RuntimeError, IndexError, OSError) as exc:
        raise EdgesignError(f"no Pi camera available: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    def close() -> None:
        cam.stop()
        cam.close()

    reader = _ThreadedReader(lambda: (True, cam.capture_array()), close=close)
    try:
        i = 0
        while True:
            ok, arr = reader.read(timeout)
            if not ok:
                raise EdgesignError("the Pi camera stopped delivering frames")
            # Picamera2's "RGB888" is BGR byte order (libcamera naming): flip to RGB
            yield Frame(f"picamera#{i}", np.ascontiguousarray(arr[..., 2::-1]), stream=True, index=i)
            i += 1
    finally:
        reader.stop()


def camera_frames(spec: str) -> Iterator[Frame]:
    """``pi`` (Picamera2), an OpenCV device index (``0``), or a stream URL."""
    if spec == "pi":
        return picamera_frames()
    if spec.isdigit():
        return opencv_frames(int(spec))
    return opencv_frames(spec)


class _ThreadedReader:
    """Reads frames on a thread so that a camera that disappears ends in an error, not a hang.

    The device is closed by this thread once its last read has returned (``close``): a read that
    never returns leaves a blocked daemon thread behind, never a crash or a hang of the caller.
    """

    def __init__(self, read, close=None) -> None:
        self._read, self._close, self._q = read, close, queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._close is not None:
                try:
                    self._close()
                except Exception:  # closing a device that has gone may fail too: nothing to do
                    pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._read()
            except Exception:  # the device vanished: report as a failed read
                item = (False, None)
            put_unless_stopped(self._q, item, self._stop)
            if not item[0]:
                return

    def read(self, timeout: float):
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return False, None

    def stop(self, wait: float = 1.0) -> None:
        """Stop reading; a device whose read returns in time is closed before this returns."""
        self._stop.set()
        drain(self._q)
        self._t.join(wait)
