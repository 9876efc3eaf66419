"""The hand crop an image classifier behind the hand stage sees: one function, for training and the device.

A square around the 21 image landmarks, ``padding`` of its side added (half each way), resized to ``size``
pixels; a left hand is mirrored into a right hand, as the landmark features do. Parts of the square outside
the image are black. The classifier's own preprocessing (its input size, channels, scaling) then applies to
this crop as to any photo: training reads the crops back from PNG files, the device gets the same pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

CROP_SIZE = 128
CROP_PADDING = 0.2


def crop_settings() -> dict[str, float]:
    """What a crop classifier's metadata records about its crops."""
    return {"size": CROP_SIZE, "padding": CROP_PADDING, "mirror_left": True}


def hand_crop(image: Image.Image, landmarks: np.ndarray, right: float, size: int = CROP_SIZE,
              padding: float = CROP_PADDING) -> Image.Image:
    """The square hand crop of an RGB image, from the hand's image landmarks (pixels) and handedness score."""
    xy = np.asarray(landmarks, np.float32)[:, :2]
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    side = max(float(max(x1 - x0, y1 - y0)) * (1.0 + padding), 8.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    crop = image.crop(box).resize((size, size), Image.Resampling.BILINEAR)
    return ImageOps.mirror(crop) if right < 0.5 else crop
