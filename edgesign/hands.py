"""The hand stage: palm detector -> hand region -> 21 landmarks, on LiteRT with numpy and Pillow only.

It follows MediaPipe's hand graphs (the reference for what each stage hands the next): the palm
detector's best box becomes a rotated square region (wrist up, scaled 2.6x, shifted towards the
fingers); the landmark model runs on that region, cropped and rotated upright; on a stream the
next frame's region comes from this frame's landmarks and the detector runs only when the hand
is lost. When the detector finds nothing (a hand filling the frame), the landmark model runs on
the centre crop and is accepted at its own presence score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

from .handfiles import hand_model_path
from .interpreter import load_backend, make_interpreter

PALM_SIZE, LANDMARK_SIZE = 192, 224
# Which arithmetic the stage does between its models; caches of landmarks are keyed on it (2: the image is shrunk
# before it is letterboxed)
STAGE_REVISION = 2
# Landmarks MediaPipe uses to place the next region: wrist, thumb CMC/MCP/IP, the MCP and PIP of each finger.
ROI_LANDMARKS = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18]
LIGHT_MODES = {  # what the hand models see of an image's light: the setting and what it does
    "none": "the image as it is",
    "gain": "dark images brightened for the hand models",
    "levels": "dark images brightened and low-contrast ones stretched for the hand models",
}
# The gain lifts a dark image's 99th luminance percentile to this level, by at most this factor.
LIGHT_TARGET, LIGHT_MOST = 235, 6.0
# "levels" also stretches an image whose 1st..99th luminance percentiles span fewer levels than this after the
# gain (a low-contrast scene), by at most LEVELS_MOST; LEVELS_RANGE is chosen in bench/lighting_probe.py
LEVELS_RANGE, LEVELS_MOST = 130, 8.0
LIGHT_SAMPLE = 160  # the percentiles are taken on a subsample of about this many pixels a side


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels: centre, side, rotation (radians, wrist-to-fingers turned upright)."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def corners(self) -> np.ndarray:
        h = self.size / 2
        pts = np.array([[-h, -h], [h, -h], [h, h], [-h, h]], np.float32)
        return pts @ self._rot().T + [self.cx, self.cy]

    def _rot(self) -> np.ndarray:
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.array([[c, -s], [s, c]], np.float32)

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Points in the region's unit square ([0,1]^2, upright) to image pixels."""
        return (uv - 0.5) * self.size @ self._rot().T + [self.cx, self.cy]


@dataclass
class Hand:
    landmarks: np.ndarray  # (21, 3): x, y in image pixels, z in the same scale (relative depth)
    world: np.ndarray  # (21, 3): metres, origin near the hand's centre
    presence: float
    right: float  # MediaPipe's handedness score (probability of a right hand in a mirrored/selfie view)
    roi: Roi
    found_by: str  # "palm", "palm-zoomed", "centre" or "track"

    def box(self) -> tuple[float, float, float, float]:
        x, y = self.landmarks[:, 0], self.landmarks[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())


class _Tflite:
    """A float32 model with one image input, its outputs in declaration order."""

    def __init__(self, path, backend: str, threads: int | None) -> None:
        self.name = path.name
        self.interpreter = make_interpreter(path.read_bytes(), load_backend(backend), threads)
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._outs = [d["index"] for d in self.interpreter.get_output_details()]
        self.runs = 0  # invokes so far: what a still image costs depends on how many tries found the hand

    def __call__(self, tensor: np.ndarray) -> list[np.ndarray]:
        self.runs += 1
        self.interpreter.set_tensor(self._in, tensor)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i)[0] for i in self._outs]


class Light(NamedTuple):
    """What the hand models see of a pixel: ``value * scale + shift`` (0..255 levels), clipped to 0..255."""

    scale: float = 1.0
    shift: float = 0.0


NO_LIGHT = Light()


def luminance_percentiles(image: Image.Image, quantiles: tuple[float, ...] = (0.01, 0.99)) -> tuple[int, ...]:
    """Luminance levels at ``quantiles`` (the 1st and 99th percentiles unless asked), from the histogram of a
    subsample (every step-th pixel: 0.2 ms for a 640x480 frame, not 1.2)."""
    step = max(1, max(image.size) // LIGHT_SAMPLE)
    if step > 1:
        image = image.resize((image.width // step, image.height // step), Image.NEAREST)
    counts = np.cumsum(image.convert("L").histogram())
    return tuple(int(np.searchsorted(counts, q * counts[-1])) for q in quantiles)


def _gain_for(p99: int) -> float:
    return float(min(LIGHT_MOST, LIGHT_TARGET / max(p99, 1))) if p99 < LIGHT_TARGET else 1.0


def light_gain(image: Image.Image) -> float:
    """The factor that lifts a dark image's 99th luminance percentile to ``LIGHT_TARGET`` (at most ``LIGHT_MOST``;
    1 for an image already that bright). Measured in bench/lighting_probe.py: the hand models lose the hand
    in dark webcam frames and find it again at this gain, and unlike a contrast stretch it leaves what
    they see of well-lit photos as it was."""
    return _gain_for(luminance_percentiles(image)[1])


def light_levels(image: Image.Image) -> Light:
    """The gain, and for a low-contrast image a stretch too: when its 1st..99th luminance percentiles span fewer
    than ``LEVELS_RANGE`` levels after the gain, they are spread to ``LEVELS_RANGE`` (at most ``LEVELS_MOST``x)
    below where the gain puts the 99th. Images with more contrast get the gain alone."""
    p1, p99 = luminance_percentiles(image)
    gain = _gain_for(p99)
    span = max(p99 - p1, 1)
    if span * gain >= LEVELS_RANGE:
        return Light(gain)
    scale = min(LEVELS_MOST, LEVELS_RANGE / span)
    return Light(scale, p99 * (gain - scale))


def _to_unit(pixels: Image.Image, light: Light = NO_LIGHT) -> np.ndarray:
    """Pixels as a float32 [0, 1] tensor (1, h, w, 3), ``light`` applied."""
    tensor = np.asarray(pixels, np.float32) * np.float32(light.scale / 255)
    if light.shift:
        tensor += np.float32(light.shift / 255)
    if light != NO_LIGHT:
        np.clip(tensor, 0.0, 1.0, out=tensor)
    return tensor[None]


def crop(image: Image.Image, roi: Roi, size: int, light: Light = NO_LIGHT) -> np.ndarray:
    """The region as an upright ``size`` x ``size`` float32 [0, 1] tensor (1, size, size, 3), ``light``
    applied to its pixels."""
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    k = roi.size / size
    # output (u, v) -> input (x, y): centre + R @ ((u, v) - size/2) * k
    a, b = c * k, -s * k
    d, e = s * k, c * k
    ox, oy = roi.cx - (a + b) * size / 2, roi.cy - (d + e) * size / 2
    patch = image.transform((size, size), Image.AFFINE, (a, b, ox, d, e, oy), resample=Image.BILINEAR)
    return _to_unit(patch, light)


def palm_anchors() -> np.ndarray:
    """The detector's 2016 SSD anchor centres: stride 8 (24x24, 2 per cell), stride 16 (12x12, 6 per cell)."""
    out = []
    for cells, per in ((24, 2), (12, 6)):
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 2)
        out.append(np.repeat(centres, per, axis=0))
    return np.concatenate(out).astype(np.float32)


def letterbox(image: Image.Image, size: int, margin: float = 0.0,
              light: Light = NO_LIGHT) -> tuple[np.ndarray, float, float, float]:
    """The image fitted into a ``size`` square (padded to a square, and by ``margin`` of its longer side all
    round), on black, ``light`` applied to its pixels: (tensor, scale, pad_x, pad_y), image x = square x *
    scale - pad_x.

    The image is shrunk before it is padded, never a square twice the frame's side resized (a 640x480
    frame zoomed out was a 1280x1280 square: 4 ms a resize on one core)."""
    w, h = image.size
    scale = max(w, h) * (1 + 2 * margin) / size
    nw, nh = max(1, int(w / scale + 1e-6)), max(1, int(h / scale + 1e-6))
    small = image.resize((nw, nh), Image.BILINEAR, box=(0, 0, min(w, nw * scale), min(h, nh * scale)))
    ox, oy = (size - nw) // 2, (size - nh) // 2
    square = Image.new("RGB", (size, size))
    square.paste(small, (ox, oy))
    return _to_unit(square, light), scale, ox * scale, oy * scale


class PalmDetector:
    """The best palm in an image as a hand region (MediaPipe's palm_detection + rect transformation)."""

    def __init__(self, variant: str = "lite", folder=None, backend: str = "auto", threads: int | None = None,
                 min_score: float = 0.5) -> None:
        self.model = _Tflite(hand_model_path(f"palm_detection_{variant}.tflite", folder), backend, threads)
        self.anchors = palm_anchors()
        self.min_score = min_score

    def run(self, image: Image.Image, margin: float = 0.0, light: Light = NO_LIGHT) -> Roi | None:
        """The best palm's hand region in image coordinates; ``margin`` zooms out first (a hand that fills the
        frame is found when it is smaller); ``light`` is applied to the pixels the detector sees."""
        tensor, scale, pad_x, pad_y = letterbox(image, PALM_SIZE, margin, light)
        boxes, logits = self.model(tensor)
        best = int(np.argmax(logits[:, 0]))
        score = 1 / (1 + math.exp(-float(np.clip(logits[best, 0], -100, 100))))
        if score < self.min_score:
            return None
        raw = boxes[best]
        anchor = self.anchors[best]
        to_px = PALM_SIZE * scale

        def point(i: int) -> tuple[float, float]:
            return ((raw[i] / PALM_SIZE + anchor[0]) * to_px - pad_x, (raw[i + 1] / PALM_SIZE + anchor[1]) * to_px - pad_y)

        cx, cy = point(0)
        w, h = raw[2] / PALM_SIZE * to_px, raw[3] / PALM_SIZE * to_px
        (x0, y0), (x2, y2) = point(4), point(8)  # keypoint 0: wrist, keypoint 2: middle finger MCP
        rotation = _upright(x0, y0, x2, y2)
        return _transform(Roi(cx, cy, max(w, h), rotation), scale=2.6, shift_y=-0.5)


def _upright(x0: float, y0: float, x1: float, y1: float) -> float:
    """The rotation that turns the wrist -> finger direction to point up (MediaPipe's target angle 90°)."""
    angle = math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0)
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def _transform(roi: Roi, scale: float, shift_y: float) -> Roi:
    """Shift along the hand's own axis, then scale the square (MediaPipe's RectTransformationCalculator)."""
    dx = -roi.size * shift_y * math.sin(roi.rotation)
    dy = roi.size * shift_y * math.cos(roi.rotation)
    return Roi(roi.cx + dx, roi.cy + dy, roi.size * scale, roi.rotation)


def roi_from_landmarks(points: np.ndarray) -> Roi:
    """The next frame's region from this frame's landmarks (MediaPipe's hand_landmark_landmarks_to_roi)."""
    x0, y0 = points[0, :2]
    mid = (points[5, :2] + points[13, :2]) / 2
    mid = (mid + points[9, :2]) / 2
    rotation = _upright(x0, y0, mid[0], mid[1])
    sub = points[ROI_LANDMARKS, :2]
    centre = (sub.max(0) + sub.min(0)) / 2
    c, s = math.cos(-rotation), math.sin(-rotation)
    local = (sub - centre) @ np.array([[c, -s], [s, c]], np.float32).T
    lo, hi = local.min(0), local.max(0)
    mid_local = (lo + hi) / 2
    c2, s2 = math.cos(rotation), math.sin(rotation)
    cx = centre[0] + mid_local[0] * c2 - mid_local[1] * s2
    cy = centre[1] + mid_local[0] * s2 + mid_local[1] * c2
    size = float(max(hi - lo))
    return _transform(Roi(float(cx), float(cy), size, rotation), scale=2.0, shift_y=-0.1)


class LandmarkModel:
    """21 hand landmarks in a region, with presence and handedness (MediaPipe's hand_landmark)."""

    def __init__(self, variant: str = "lite", folder=None, backend: str = "auto", threads: int | None = None) -> None:
        self.model = _Tflite(hand_model_path(f"hand_landmark_{variant}.tflite", folder), backend, threads)

    def run(self, image: Image.Image, roi: Roi, found_by: str, light: Light = NO_LIGHT) -> Hand:
        coords, presence, handedness, world = self.model(crop(image, roi, LANDMARK_SIZE, light))
        local = coords.reshape(21, 3) / LANDMARK_SIZE
        points = np.empty((21, 3), np.float32)
        points[:, :2] = roi.to_image(local[:, :2])
        points[:, 2] = local[:, 2] * roi.size
        return Hand(points, world.reshape(21, 3).astype(np.float32), float(presence[0]), float(handedness[0]),
                    roi, found_by)


@dataclass(frozen=True)
class HandSettings:
    """What a classifier's metadata says about the hand stage it needs."""

    palm: str = "lite"
    landmarks: str = "lite"
    min_palm_score: float = 0.5
    min_presence: float = 0.5
    # When the palm detector finds nothing, try it again on the image zoomed out by this fraction of its side
    # all round (0: no second try, what files without the setting were certified with).
    zoom_out: float = 0.0
    # What the hand models see of a dark image: "none" (the image as it is, what files without the setting were
    # certified with), "gain" (see :func:`light_gain`) or "levels" (the gain, and low-contrast images stretched:
    # :func:`light_levels`). The classifier's own crop is never changed.
    light: str = "none"
    # Run the landmark model a second time on the region its own landmarks give (what a stream's next frame is
    # cropped to): a still image's landmarks as a tracked frame's. False: one pass, what files without the setting
    # were certified with.
    refine: bool = False

    def __post_init__(self) -> None:
        if self.light not in LIGHT_MODES:
            raise ValueError(f"hand stage light {self.light!r}: one of {', '.join(LIGHT_MODES)}")

    def files(self) -> list[str]:
        return [f"palm_detection_{self.palm}.tflite", f"hand_landmark_{self.landmarks}.tflite"]

    def recorded(self) -> dict:
        """The settings as files and landmark caches record them: a setting at its "off" value is left out, so
        files and caches made before it existed stay what they were."""
        d = asdict(self)
        if d["light"] == "none":
            del d["light"]
        if not d["refine"]:
            del d["refine"]
        return d


class HandStage:
    """Find one hand in a still image, or follow it through a stream (``track``)."""

    def __init__(self, settings: HandSettings = HandSettings(), folder=None, backend: str = "auto",
                 threads: int | None = None) -> None:
        self.settings = settings
        self.palm = PalmDetector(settings.palm, folder, backend, threads, settings.min_palm_score)
        self.landmarks = LandmarkModel(settings.landmarks, folder, backend, threads)

    def light_for(self, image: Image.Image) -> Light:
        """How the hand models see ``image`` (the settings' ``light``): the scale and shift their crops take."""
        if self.settings.light == "gain":
            return Light(light_gain(image))
        return light_levels(image) if self.settings.light == "levels" else NO_LIGHT

    def detect(self, image: Image.Image) -> Hand | None:
        """Palm detector, then landmarks; the detector again on the image zoomed out (``zoom_out``), then the
        centre crop, while no hand is found."""
        return self._detect(image, self.light_for(image))

    def _detect(self, image: Image.Image, light: Light) -> Hand | None:
        tries = [(0.0, "palm")] + ([(self.settings.zoom_out, "palm-zoomed")] if self.settings.zoom_out > 0 else [])
        for margin, found_by in tries:
            roi = self.palm.run(image, margin, light)
            if roi is not None:
                hand = self.landmarks.run(image, roi, found_by, light)
                if hand.presence >= self.settings.min_presence:
                    return self._refined(image, hand, light)
        w, h = image.size
        hand = self.landmarks.run(image, Roi(w / 2, h / 2, float(min(w, h))), "centre", light)
        return self._refined(image, hand, light) if hand.presence >= self.settings.min_presence else None

    def _refined(self, image: Image.Image, hand: Hand, light: Light) -> Hand:
        """With ``refine``, the landmarks again from the region the found ones give (kept when a hand is there)."""
        if not self.settings.refine:
            return hand
        again = self.landmarks.run(image, roi_from_landmarks(hand.landmarks), hand.found_by, light)
        return again if again.presence >= self.settings.min_presence else hand

    def track(self, image: Image.Image, previous: Hand | None) -> Hand | None:
        """The hand in the region the previous frame's landmarks give; ``detect`` when it was lost."""
        light = self.light_for(image)
        if previous is not None:
            hand = self.landmarks.run(image, roi_from_landmarks(previous.landmarks), "track", light)
            if hand.presence >= self.settings.min_presence:
                return hand
        return self._detect(image, light)


def as_rgb(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        image = Image.fromarray(image[..., :3] if image.ndim == 3 else image)
    return image if image.mode == "RGB" else image.convert("RGB")

