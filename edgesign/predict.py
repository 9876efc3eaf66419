"""`edgesign predict`: images, videos and cameras through one loop, with smoothing and --spell."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from .errors import EdgesignError
from .letters import letters_option
from .prefetch import prefetch
from .preprocess import Overrides
from .runtime import EdgeModel, open_model
from .sources import Frame, camera_frames, first_frames, iter_frames
from .stream import Smoother, Speller

if TYPE_CHECKING:
    from .preview import Preview


def stream_predictions(model: EdgeModel, frames: Iterator[Frame], *, k: int = 3, smooth: int = 5,
                       spell: Speller | None = None, threshold: float = 0.0, save: str | None = None,
                       preview: Preview | None = None) -> Iterator[dict]:
    """One result dict per image or frame. Stream frames are smoothed (per stream) and fed to ``spell``, which starts
    a new text with each stream; ``preview`` shows each one in a browser (``predict --serve``).

    The next frame is decoded, resized and quantized on a worker thread while the interpreter runs
    the current one (`edgesign.prefetch`).
    """
    smoother, count, labels, written = None, 0, None, set()
    t_start = t_asked = time.perf_counter()  # t_asked: when the loop last asked for a frame
    with closing(prefetch(frames, partial(_still_or_frame_input, model))) as prepared:
        for frame, tensor in prepared:
            if isinstance(tensor, Unreadable):
                yield {"source": frame.source, "error": tensor.reason}
                continue
            probs = model.classify_input(tensor)
            if frame.stream:
                if frame.index == 0:  # a new stream (by its first frame: two videos may share a file name)
                    # a stream's clock starts when its first frame was asked for, not when it came
                    smoother, t_start, count = Smoother(smooth), t_asked, 0
                    if spell is not None:
                        spell.restart()  # each video is typed on its own
                probs = smoother(probs)
                count += 1
            result = {"source": frame.source, "top": [{"label": p.label, "probability": round(p.probability, 4)}
                                                      for p in model.top(probs, k, threshold)]}
            last = getattr(model, "last", None)
            if last is not None:
                result["hand"] = None if last.hand is None else {"found_by": last.hand.found_by,
                                                                 "box": [round(v, 1) for v in last.hand.box()]}
            if frame.stream:
                result["frame"] = frame.index
                result["fps"] = round(count / max(time.perf_counter() - t_start, 1e-9), 1)
                if spell is not None:
                    labels = labels or [model.label(i) for i in range(len(probs))]  # once: the model's classes
                    accepted = spell.feed_probabilities(labels, probs)
                    result["text"] = spell.text
                    if accepted:
                        result["accepted"] = accepted
            if save:  # after the reader: a spelled frame is drawn with the text so far, as the preview shows it
                result["saved"] = str(_save(save, frame, result, last, written))
            if preview is not None:
                _show(preview, frame, result, last)
            yield result
            t_asked = time.perf_counter()


@dataclass
class Unreadable:
    """A still image that could not be read: predict goes on, and lists it at the end."""

    reason: str


def _still_or_frame_input(model: EdgeModel, frame: Frame):
    try:
        return frame_input(model, frame)
    except EdgesignError as exc:
        if frame.stream:
            raise
        return Unreadable(str(exc))


def frame_input(model: EdgeModel, frame: Frame) -> np.ndarray:
    """The model's input tensor for a frame or a still image (decoded here)."""
    if frame.image is None:
        return model.file_input(frame.path)
    return model.frame_input(frame.image, first=frame.stream and frame.index == 0)


def _picture(frame: Frame, prepared):
    """(the image, its hand or None) to draw: a still is decoded again, a stream frame is at hand."""
    from .preprocess import open_image

    image = frame.image if frame.image is not None else open_image(frame.path)
    return image, prepared.hand if prepared is not None else None


def _show(preview: Preview, frame: Frame, result: dict, prepared) -> None:
    """The frame, drawn, to the browser preview while someone watches; otherwise only the result."""
    if not preview.wanted():
        preview.publish_result(result)
        return
    image, hand = _picture(frame, prepared)
    preview.publish(image, result, hand)


def _save(folder: str, frame: Frame, result: dict, prepared, written: set) -> object:
    from .draw import save_result

    image, hand = _picture(frame, prepared)
    best = result["top"][0]
    caption = f"text: {result['text']}" if "text" in result else None
    return save_result(folder, frame.source, image, best["label"], best["probability"], hand, taken=written,
                       caption=caption)


def run_predict(model_path: str | None, sources: list[str], *, camera: str | None = None, k: int = 3,
                threshold: float = 0.0, smooth: int = 5, spell: bool = False, stable: int = 8,
                spell_threshold: float | None = None, letters: str = "en", max_frames: int | None = None,
                backend: str = "auto", threads: int | None = None, device: str = "auto", save: str | None = None,
                hand_models: str | None = None, overrides: Overrides | None = None,
                preview: Preview | None = None) -> Iterator[dict]:
    """Open the model and yield one result per image or frame; the first result of an Edge TPU model
    carries ``first_inference_ms`` (loading the model onto the TPU). Raises when there was nothing to do.
    ``letters``: the reader's letter model (:func:`edgesign.letters.letters_option`); ``spell_threshold``: the
    reader's (None: :class:`Speller`'s); ``preview``: a browser preview (:class:`edgesign.preview.Preview`)."""
    reader_threshold = Speller.threshold if spell_threshold is None else spell_threshold
    speller = Speller(stable=stable, threshold=reader_threshold, letters=letters_option(letters)) if spell else None
    model = open_model(model_path, backend=backend, threads=threads, device=device, hand_models=hand_models,
                       overrides=overrides)
    # --max-frames: a camera stops there; each video gives at most that many (the next video is read)
    frames = first_frames(camera_frames(camera), max_frames) if camera else iter_frames(sources, max_frames)
    count, bad = 0, []
    for result in stream_predictions(model, frames, k=k, smooth=smooth, spell=speller, threshold=threshold,
                                     save=save, preview=preview):
        count += 1
        if "error" in result:
            bad.append((result["source"], result["error"]))
        elif count - len(bad) == 1 and model.edgetpu and model.first_inference_seconds is not None:
            result["first_inference_ms"] = round(1e3 * model.first_inference_seconds, 1)
        yield result
    if count == 0:
        raise EdgesignError("no images or frames to predict on")
    if bad:
        first, reason = bad[0]
        others = [source for source, _ in bad[1:6]]
        raise EdgesignError(f"{len(bad)} of {count} file(s) could not be read: {first} ({reason})"
                            + (", " + ", ".join(others) if others else "") + (" ..." if len(bad) > 6 else ""))
