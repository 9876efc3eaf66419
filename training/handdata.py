"""Hand landmarks over a whole image-folder dataset, extracted once (two processes, progress) and cached.

The cache key covers the folder's files (names, labels, contents) and the hand stage's settings, so a
changed dataset or a different detector never reuses stale landmarks, and a copied one reuses them.
``mirror=True`` extracts them from the photos mirrored left to right: the same letters as a left hand shows
them (MediaPipe's landmark model does not answer a mirrored hand with exactly mirrored landmarks).
``small=(28, 40, ...)`` from the photos shrunk to one of those sides each: a low-resolution camera's hands.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from edgesign import atomic
from edgesign.data import list_image_folder
from edgesign.handfeatures import hand_features
from edgesign.handfiles import cache_folder, hand_model_path
from edgesign.hands import STAGE_REVISION, HandSettings, HandStage, as_rgb
from edgesign.preprocess import open_image
from edgesign.progress import Progress


@dataclass
class HandSet:
    """Per image of a dataset: its label and, when a hand was found, the landmarks."""

    source: str
    files: list[str]
    labels: np.ndarray
    class_names: list[str]
    found: np.ndarray  # bool
    world: np.ndarray  # (N, 21, 3)
    image: np.ndarray  # (N, 21, 3)
    right: np.ndarray  # (N,)

    def features(self, indices: np.ndarray | None = None) -> np.ndarray:
        idx = np.flatnonzero(self.found) if indices is None else indices
        return np.stack([hand_features(self.world[i], self.image[i, :, :2], self.right[i]) for i in idx])


@dataclass(frozen=True)
class PhotoView:
    """How a photo is seen before the hand stage: as photographed, mirrored, shrunk (see :func:`small_side`)."""
    mirror: bool = False
    small: tuple[int, ...] = ()

    @property
    def suffix(self) -> str:
        """What a dataset's name gains in this view."""
        return f"{' (mirrored)' if self.mirror else ''}{f' (shrunk to {self.small} px)' if self.small else ''}"

    def apply(self, image: Image.Image, path: str) -> Image.Image:
        if self.mirror:
            image = ImageOps.mirror(image)
        if self.small:
            side = small_side(path, self.small)
            image = image.resize((side, side), Image.BILINEAR)
        return image


def _key(root: Path, files: list[tuple[Path, int]], settings: HandSettings, view: PhotoView) -> str:
    """The hand stage's settings and revision, the view, and each file's name, label and content (not its time: a
    copied or re-mounted dataset keeps its landmarks; hashing 8,728 photos takes about half a second)."""
    stage = {**settings.recorded(), "revision": STAGE_REVISION, **({"mirror": True} if view.mirror else {}),
             **({"small": list(view.small)} if view.small else {})}
    h = hashlib.sha256(json.dumps(stage, sort_keys=True).encode())
    for f, label in files:
        h.update(f"{f.relative_to(root)}|{label}|".encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:24]


_WORKER: tuple[HandStage, PhotoView] | None = None  # an extraction worker's own stage and view (spawned pool)


def _init(settings: HandSettings, folder: str | None, view: PhotoView) -> None:
    global _WORKER
    _WORKER = HandStage(settings, folder, threads=1), view


def small_side(path: str, sides: tuple[int, ...]) -> int:
    """The side (pixels, square) a photo is shrunk to in the small view: one of ``sides``, fixed by its name."""
    return sides[int(hashlib.sha256(Path(path).name.encode()).hexdigest(), 16) % len(sides)]


def _extract_one(path: str) -> tuple[bool, np.ndarray, np.ndarray, float]:
    stage, view = _WORKER
    hand = stage.detect(view.apply(as_rgb(open_image(path)), path))
    if hand is None:
        return False, np.zeros((21, 3), np.float32), np.zeros((21, 3), np.float32), 0.0
    return True, hand.world, hand.landmarks, hand.right


def extract_folder(root: str | os.PathLike, settings: HandSettings = HandSettings(), folder: str | None = None,
                   workers: int = 2, mirror: bool = False, small: tuple[int, ...] = ()) -> HandSet:
    """Landmarks of every image under ``root`` (class folders; ``mirror``: of each image mirrored; ``small``:
    of each image shrunk, see :func:`small_side`), from the cache when it is current."""
    root, view = Path(root), PhotoView(mirror, tuple(small))
    class_names, files = list_image_folder(root)
    cache = cache_folder().parent / "landmarks" / f"{_key(root, files, settings, view)}.npz"
    labels = np.array([label for _, label in files], np.int64)
    names = [str(f) for f, _ in files]
    source = f"{root}{view.suffix}"
    if cache.is_file():
        z = np.load(cache)
        return HandSet(source, names, labels, class_names, z["found"], z["world"], z["image"], z["right"])
    # A worker per core, each with its own one-thread interpreters: the landmark models do not scale past that.
    hand_stage_folder = folder or os.environ.get("EDGESIGN_HAND_MODELS")
    for name in settings.files():  # fetch and verify once, here, not in every worker
        hand_model_path(name, hand_stage_folder)
    with Progress(f"hand landmarks {source}", len(names)) as bar, \
            get_context("spawn").Pool(workers, _init, (settings, hand_stage_folder, view)) as pool:
        results = []
        for r in pool.imap(_extract_one, names, chunksize=16):
            results.append(r)
            bar.update()
    found = np.array([r[0] for r in results])
    world = np.stack([r[1] for r in results]).astype(np.float32)
    image = np.stack([r[2] for r in results]).astype(np.float32)
    right = np.array([r[3] for r in results], np.float32)
    with atomic.atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, found=found, world=world, image=image, right=right)
    return HandSet(source, names, labels, class_names, found, world, image, right)
