"""Hand crops of a whole photo folder, for image models behind the hand stage: written once, cached, reused.

The hand stage's landmarks come from :func:`edgesign.training.handdata.extract_folder` (its own cache);
each photo with a hand becomes a PNG crop (:func:`edgesign.handcrop.hand_crop`, the device's function)
under the same class folder and file name, in a cache folder keyed by the landmarks and the crop settings.
A photo without a hand has no crop: the pipeline answers ``Nothing`` there whatever the classifier, so
the pipeline's accuracy counts those photos by that rule (:func:`pipeline_probabilities`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesign.data import Dataset, load_dataset, model_class_index
from edgesign.errors import EdgesignError
from edgesign.handcrop import crop_settings, hand_crop
from edgesign.handfiles import cache_folder
from edgesign.hands import HandSettings
from edgesign.pipeline import NO_HAND_LABEL
from edgesign.preprocess import Preprocess, open_image
from edgesign.progress import Progress

from .handdata import HandSet, extract_folder
from .landmarks import union_classes as photo_classes


@dataclass
class CropSet:
    """The crops of one photo folder (one signer): a Dataset of the crops, and the photos with no hand."""

    photos: HandSet
    crops: Dataset  # labels index crops.class_names (the photo folder's classes)
    no_hand_labels: np.ndarray  # class indices of the photos without a hand

    @property
    def source(self) -> str:
        return self.photos.source

    def hands_found(self) -> float:
        return float(self.photos.found.mean())


def _crop_key(hs: HandSet) -> str:
    h = hashlib.sha256(json.dumps(crop_settings(), sort_keys=True).encode())
    for f, found, lm in zip(hs.files, hs.found, hs.image):  # names relative to the folder, as the landmarks' key
        h.update(f"{Path(f).relative_to(hs.source)}|{bool(found)}|".encode() + np.round(lm, 2).tobytes())
    return h.hexdigest()[:24]


def _write_crops(hs: HandSet, folder: Path) -> None:
    """The crops of every photo with a hand, into ``folder`` (class folders), all or nothing."""
    root = Path(hs.source)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in hs.class_names:
        (tmp / name).mkdir(parents=True)
    with Progress(f"hand crops {root}", len(hs.files)) as bar:
        for f, found, lm, right in zip(hs.files, hs.found, hs.image, hs.right):
            if found:
                rel = Path(f).relative_to(root)
                hand_crop(open_image(f).convert("RGB"), lm, right).save(tmp / rel.parent / f"{rel.stem}.png")
            bar.update()
    os.replace(tmp, folder)


def crop_set(root: str | os.PathLike, settings: HandSettings, pre: Preprocess) -> CropSet:
    """The hand crops of the photo folder ``root`` at the classifier's input (from the cache when current)."""
    hs = extract_folder(root, settings)
    folder = cache_folder().parent / "crops" / _crop_key(hs)
    if not folder.is_dir():
        _write_crops(hs, folder)
    if not hs.found.any():
        raise EdgesignError(f"the hand stage found no hand in any photo of {root}: no crops to train or measure on")
    crops = load_dataset(folder, pre)
    crops.source = hs.source
    return CropSet(hs, crops, hs.labels[~hs.found])


def union_classes(sets: list[CropSet]) -> list[str]:
    """The classes of several signers' photo folders (:func:`edgesign.training.landmarks.union_classes`), of
    which one must be ``Nothing``: it is what the pipeline answers when no hand is found."""
    if not any(n.lower() == NO_HAND_LABEL.lower() for s in sets for n in s.photos.class_names):
        raise EdgesignError(f"a hand-crop model needs a {NO_HAND_LABEL} class folder (what the pipeline answers "
                            "when no hand is found)")
    return photo_classes([s.photos for s in sets])


def relabelled(s: CropSet, classes: list[str]) -> Dataset:
    """A signer's crops with labels as indices of ``classes``."""
    index = model_class_index(s.crops.class_names, classes, s.source)
    return Dataset(s.crops.images, index[s.crops.labels], classes, s.source, s.crops.digest)


def concat(parts: list[Dataset], source: str | None = None) -> Dataset:
    """Datasets over the same classes, one after the other."""
    digest = hashlib.sha256("".join(p.digest for p in parts).encode()).hexdigest()[:16]
    return Dataset(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                   parts[0].class_names, source or " + ".join(p.source for p in parts), digest)


def pipeline_probabilities(s: CropSet, probs: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of the whole pipeline on a signer's photos: the classifier's rows for the
    crops, then a certain ``Nothing`` for each photo without a hand."""
    index = model_class_index(s.crops.class_names, classes, s.source)
    nothing = [c.lower() for c in classes].index(NO_HAND_LABEL.lower())
    rule = np.zeros((len(s.no_hand_labels), len(classes)), np.float32)
    rule[:, nothing] = 1.0
    labels = np.concatenate([index[s.crops.labels], index[s.no_hand_labels]])
    return labels, np.concatenate([probs, rule]).astype(np.float32)
