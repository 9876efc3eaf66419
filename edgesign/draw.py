"""What the camera saw: a frame with the hand's landmarks, its region and the label drawn (Pillow only)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from . import atomic
from .hands import Hand, as_rgb

BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
         (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18), (18, 19), (19, 20), (0, 17)]


def draw_result(image, label: str, probability: float, hand: Hand | None = None, caption: str | None = None
                ) -> Image.Image:
    """A copy of ``image`` with the hand (bones, joints, region) and ``label probability`` written on it, and
    ``caption`` (the spelled text) along its foot."""
    img = as_rgb(image).copy()
    d = ImageDraw.Draw(img)
    r = max(2, round(min(img.size) / 120))
    if hand is not None:
        pts = [(float(x), float(y)) for x, y, _ in hand.landmarks]
        d.polygon([tuple(p) for p in hand.roi.corners()], outline=(255, 210, 0))
        for a, b in BONES:
            d.line([pts[a], pts[b]], fill=(0, 255, 120), width=max(1, r // 2))
        for x, y in pts:
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 40, 40))
    text = f"{label} {probability:.2f}" + ("" if hand is not None else "  (no hand)")
    d.rectangle([0, 0, 8 + 7 * len(text), 16], fill=(0, 0, 0))
    d.text((4, 2), text, fill=(255, 255, 255))
    if caption:
        d.rectangle([0, img.height - 17, 8 + 7 * len(caption), img.height], fill=(0, 0, 0))
        d.text((4, img.height - 15), caption, fill=(255, 255, 255))
    return img


def save_result(folder: Path, source: str, image, label: str, probability: float, hand: Hand | None,
                taken: set[Path] | None = None, caption: str | None = None) -> Path:
    """Write the drawn frame as ``folder/<source's file stem>.png``; a stream's frame N (``clip.mp4#N``,
    ``camera:0#N``) as ``<stem>_<N, six digits>.png``, so a video's frames do not overwrite each other and sort.
    ``taken``: the paths this run has written (updated); a name met again (``day1/IMG_1.jpg``, ``day2/IMG_1.jpg``)
    gets ``-2``, ``-3``, ... instead of overwriting. ``caption``: the spelled text, along the foot."""
    base, _, index = source.partition("#")
    stem = Path(base.replace(":", "_")).stem
    stem = f"{stem}_{int(index):06d}" if index.isdigit() else stem
    path, n = Path(folder) / f"{stem}.png", 1
    while taken is not None and path in taken:
        n += 1
        path = Path(folder) / f"{stem}-{n}.png"
    if taken is not None:
        taken.add(path)
    with atomic.atomic_path(path) as tmp:
        draw_result(image, label, probability, hand, caption=caption).save(tmp, format="PNG")
    return path
