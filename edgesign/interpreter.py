"""TFLite interpreter backends and the Edge TPU delegate.

Backends in order of preference: ai-edge-litert (LiteRT), tflite-runtime (legacy, needs
numpy < 2), tensorflow.lite (last resort: it pulls in all of TensorFlow).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EdgesignError

BACKENDS = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite",
}

EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
EDGETPU_INSTALL = ("install the Edge TPU runtime: on Debian/Raspberry Pi OS add Coral's apt repository, then "
                   "'sudo apt install libedgetpu1-std' (https://coral.ai/software/#edgetpu-runtime)")


@dataclass
class Backend:
    name: str
    interpreter_class: Any
    load_delegate: Callable[..., Any]


def quiet_tensorflow() -> None:
    """Before TensorFlow is imported (training, conversion, or the tensorflow backend): its native logs (cuInit
    failures without a GPU, start-up notes) and tf.lite's UserWarnings (the converter's statistics,
    tf.lite.Interpreter's deprecation on every construction) are hidden unless --verbose; a user's own
    ``TF_CPP_MIN_LOG_LEVEL`` wins."""
    verbose = os.environ.get("EDGESIGN_VERBOSE")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if not verbose:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"tensorflow\.lite")


def _tensorflow_lite():
    """``tf.lite``, the API (the package ``tensorflow.lite`` itself has no Interpreter), quiet unless --verbose."""
    quiet_tensorflow()
    with quiet_native_stderr():
        tensorflow = importlib.import_module("tensorflow")
    return tensorflow.lite


def load_backend(name: str = "auto") -> Backend:
    """The first importable backend (``auto``), or the one named."""
    if name != "auto" and name not in BACKENDS:
        raise EdgesignError(f"unknown backend {name!r}: one of auto, {', '.join(BACKENDS)}")
    names = list(BACKENDS) if name == "auto" else [name]
    errors = []
    for n in names:
        try:
            module = _tensorflow_lite() if n == "tensorflow" else importlib.import_module(BACKENDS[n])
        except ImportError as exc:
            errors.append(f"{n}: {exc}")
            continue
        if n == "tensorflow":
            return Backend(n, module.Interpreter, module.experimental.load_delegate)
        return Backend(n, module.Interpreter, module.load_delegate)
    if name == "auto":
        raise EdgesignError("no TFLite interpreter found: pip install ai-edge-litert (or tflite-runtime on 32-bit ARM)")
    raise EdgesignError(f"backend {name} is not installed ({errors[0]})")


@contextlib.contextmanager
def quiet_native_stderr():
    """Hide what native (C++) code prints on stderr: the interpreter's "INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU." once per model, TensorFlow's converter logs. Python's own writes (progress, warnings,
    errors) keep going to the real stderr. ``EDGESIGN_VERBOSE=1`` (or ``--verbose``) shows everything."""
    if os.environ.get("EDGESIGN_VERBOSE"):
        yield
        return
    python_stderr = sys.stderr
    python_stderr.flush()
    saved = os.dup(2)
    real = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        sys.stderr = real
        yield
    finally:
        sys.stderr = python_stderr
        real.close()
        os.dup2(saved, 2)
        os.close(saved)


def edgetpu_library() -> str:
    return EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")


# a 4096 x 4096 RGB image is 50 M values; a model that declares more is refused before anything is allocated
MAX_INPUT_VALUES = 64_000_000


def _refuse_absurd_inputs(content: bytes) -> None:
    """A model whose inputs would take gigabytes is refused by name, before the interpreter allocates them."""
    from .metadata import schema_module

    schema = schema_module()
    if schema is None:
        return
    try:
        model = schema.Model.GetRootAs(content, 0)
        graph = model.Subgraphs(0)
        shapes = [graph.Tensors(graph.Inputs(i)).ShapeAsNumpy() for i in range(graph.InputsLength())]
    except Exception:  # a corrupt flatbuffer: the interpreter's own check reports it
        return
    for shape in shapes:
        if isinstance(shape, int):
            continue
        values = int(np.prod(np.maximum(np.asarray(shape, np.int64), 1)))
        if values > MAX_INPUT_VALUES:
            raise EdgesignError(f"this model declares an input of shape {list(shape)} ({values / 1e6:.0f} M values): "
                                "more than an image classifier on a small device takes, refused")


def default_threads() -> int:
    """The cores this process may run on (LiteRT's own default is one thread)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None) -> None:
    """``--threads``: None (the cores) or 1 to four times this machine's cores."""
    limit = 4 * (os.cpu_count() or 1)
    if threads is not None and not 1 <= threads <= limit:
        raise EdgesignError(f"--threads must be between 1 and {limit} (4x this machine's {os.cpu_count()} cores), "
                            f"got {threads}")


def make_interpreter(content: bytes, backend: Backend, threads: int | None = None, edgetpu: bool = False):
    """An interpreter over model bytes, with the Edge TPU delegate when asked for; ``threads`` defaults to
    the cores this process may use."""
    check_threads(threads)
    delegates = []
    if edgetpu:
        lib = edgetpu_library()
        try:
            # load the library first: a delegate object whose library fails to load raises again from its
            # destructor ("Exception ignored in ... Delegate.__del__"), after our one error line
            import ctypes

            ctypes.CDLL(lib)
            delegates.append(backend.load_delegate(lib))
        except (OSError, ValueError, RuntimeError) as exc:
            raise EdgesignError(f"Edge TPU delegate {lib} could not be loaded ({str(exc).splitlines()[0]}); "
                                f"{EDGETPU_INSTALL}") from None
    _refuse_absurd_inputs(content)
    kwargs: dict[str, Any] = {"model_content": content, "num_threads": threads or default_threads()}
    if delegates:
        kwargs["experimental_delegates"] = delegates
    try:
        with quiet_native_stderr():
            interpreter = backend.interpreter_class(**kwargs)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or ["invalid model"])[0]
        raise EdgesignError(f"the interpreter cannot load this model: {first}") from None
    return interpreter
