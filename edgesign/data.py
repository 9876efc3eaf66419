"""One dataset interface over the three formats edgesign reads, with no TensorFlow.

- image folders: ``ROOT/<class>/*.jpg|png`` (one sub-folder per class)
- Sign Language MNIST CSV: ``label,pixel1..pixel784`` with or without the header line
- SIGNS HDF5: ``train_set_x``/``train_set_y`` or ``test_set_x``/``test_set_y`` and ``list_classes``

Every format is decoded to uint8 arrays at the model's input size and channels through
:mod:`edgesign.preprocess`, the same code the device runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import preprocess as pp
from .errors import EdgesignError, MissingExtra
from .progress import Progress

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SIGN_MNIST_CLASSES = [chr(ord("A") + i) for i in range(25) if i != 9]  # A-Y without J (label 9)


@dataclass
class Dataset:
    """Images (uint8, N x H x W x C at the model's input size), integer labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    source: str
    digest: str = ""
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray, source: str | None = None) -> Dataset:
        return Dataset(self.images[indices], self.labels[indices], self.class_names,
                       source or self.source, self.digest)

    def check_classes(self, classes: list[str] | None, n_outputs: int | None = None, what: str = "") -> None:
        """Raise a one-line error unless this dataset has the model's classes, in its order.

        ``classes`` may be empty (a model without labels): then only the count is checked against
        ``n_outputs``, the model's number of outputs.
        """
        name = f"the {what} set {self.source}" if what else self.source
        if classes and self.class_names != list(classes):
            diff = sorted(set(self.class_names) ^ set(classes))
            raise EdgesignError(f"the classes of {name} do not match the model's ({len(self.class_names)} vs "
                                f"{len(classes)}; differing: {', '.join(diff[:6]) or 'their order'})")
        if n_outputs is not None and len(self.class_names) != n_outputs:
            raise EdgesignError(f"{name} has {len(self.class_names)} classes, the model outputs {n_outputs}")

    def in_model_classes(self, model_labels: list[str]) -> Dataset:
        """This dataset with its labels as indices of the model's labels (see :func:`model_class_index`)."""
        index = model_class_index(self.class_names, model_labels, self.source)
        return Dataset(self.images, index[self.labels], list(model_labels), self.source, self.digest,
                       list(self.skipped))

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.class_names))

    def split(self, val_fraction: float, seed: int = 0, mode: str = "random") -> tuple[Dataset, Dataset]:
        """A stratified (train, validation) split: each class keeps its share in both parts.

        ``mode="blocks"`` holds out the last files of each class in natural name order instead of a
        random draw. Photos are numbered in shooting order, so consecutive files share a background;
        a block split keeps whole backgrounds out of training and measures generalization to new
        ones, which a random split (near-duplicate neighbours on both sides) does not.
        """
        if mode not in ("random", "blocks"):
            raise EdgesignError(f"unknown validation split {mode!r}: random or blocks")
        rng = np.random.default_rng(seed)
        val_idx = []
        for c in range(len(self.class_names)):
            idx = np.flatnonzero(self.labels == c)
            if mode == "random":
                rng.shuffle(idx)
            n_val = int(round(len(idx) * val_fraction))
            if len(idx) > 1:
                n_val = min(max(n_val, 1), len(idx) - 1)
            val_idx.extend(idx[len(idx) - n_val:] if mode == "blocks" else idx[:n_val])
        val_mask = np.zeros(len(self), bool)
        val_mask[np.asarray(val_idx, int)] = True
        return (self.subset(np.flatnonzero(~val_mask), f"{self.source} (train part)"),
                self.subset(np.flatnonzero(val_mask), f"{self.source} (validation part)"))

    def stratified_sample(self, n: int, seed: int = 0) -> Dataset:
        """At most ``n`` items, spread evenly over the classes."""
        if n >= len(self):
            return self
        return self.subset(stratified_indices(self.labels, len(self.class_names), n, seed), self.source)


def stratified_indices(labels: np.ndarray, n_classes: int, n: int, seed: int = 0) -> np.ndarray:
    """The sorted indices of ``n`` of ``labels`` (fewer than there are), spread evenly over the classes: a round
    over the classes, each in a seeded random order, until ``n`` are taken."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(n_classes)]
    chosen: list[int] = []
    rank = 0
    while len(chosen) < n:
        for idx in per_class:
            if rank < len(idx) and len(chosen) < n:
                chosen.append(int(idx[rank]))
        rank += 1
    return np.sort(np.asarray(chosen))


def model_class_index(names: list[str], model_labels: list[str], source: str) -> np.ndarray:
    """For each of a dataset's class names, the index of that class among the model's labels.

    Names match case-insensitively (``del`` is ``Del``) and the data may hold a subset of the model's
    classes, in any order; a class the model does not know is an error, not a silent skip.
    """
    lowered = [c.lower() for c in model_labels]
    unknown = [n for n in names if n.lower() not in lowered]
    if unknown:
        raise EdgesignError(f"{source} has classes the model does not know: {', '.join(unknown[:6])}"
                            f"{' ...' if len(unknown) > 6 else ''} (the model's: {', '.join(model_labels[:8])}"
                            f"{' ...' if len(model_labels) > 8 else ''})")
    return np.array([lowered.index(n.lower()) for n in names], np.int64)


def require_dataset(path: str | os.PathLike) -> Path:
    """The dataset's path, or the one-line error for a missing one (cheap: commands call it before loading
    TensorFlow)."""
    p = Path(path)
    if not p.exists():
        raise EdgesignError(f"dataset not found: {p}")
    return p


def load_dataset(path: str | os.PathLike, pre: pp.Preprocess | None, *, split: str = "auto",
                 strict: bool = False, progress: bool = True) -> Dataset:
    """Load any supported dataset at the input size and channels of ``pre`` (``None``: a .csv or .h5 file's
    images as stored, for a hand pipeline, whose hand stage takes any size).

    ``split`` picks the HDF5 part (``train``/``test``; ``auto`` takes whichever is there).
    Unreadable images are skipped with a warning (listed in ``Dataset.skipped``), or, with
    ``strict``, stop the load naming them.
    """
    p = require_dataset(path)
    if p.is_dir():
        if pre is None:
            raise EdgesignError(f"{p}: a folder's photos are read one by one at the model's size, not as stored")
        return _load_folder(p, pre, strict=strict, progress=progress)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _load_sign_mnist_csv(p, pre)
    if suffix in (".h5", ".hdf5"):
        return _load_signs_h5(p, pre, split)
    raise EdgesignError(f"unsupported dataset {p}: expected a folder of class folders, a .csv or a .h5 file")


@dataclass
class Sample:
    """A stratified sample of a dataset, how many items the whole dataset has, and what ``data.digest`` is of:
    ``"sample"`` (the photos taken) or ``"source"`` (the whole file or folder, when it was loaded whole)."""

    data: Dataset
    total: int
    digest_of: str = "source"


def load_sample(path: str | os.PathLike, pre: pp.Preprocess, n: int, seed: int = 0, progress: bool = True) -> Sample:
    """``n`` items of a dataset spread evenly over its classes (:meth:`Dataset.stratified_sample`), decoding only
    those of a folder: calibration takes a few hundred photos of a training folder that may hold 100,000.
    The sample is the one the whole folder's load would give; should one of its photos not decode, the whole
    folder is loaded and sampled instead (its unreadable photos skipped with the usual warning)."""
    p = require_dataset(path)
    if not p.is_dir():
        full = load_dataset(p, pre, progress=progress)
        return Sample(full.stratified_sample(n, seed), len(full))
    classes, items = list_image_folder(p)
    if n >= len(items):
        full = _load_folder(p, pre, strict=False, progress=progress, listing=(classes, items))
        return Sample(full, len(full))
    labels = np.asarray([c for _, c in items], np.int64)
    chosen = [items[i] for i in stratified_indices(labels, len(classes), n, seed)]
    try:
        sample = _load_folder(p, pre, strict=True, progress=progress, listing=(classes, chosen), what="a sample of ")
        return Sample(sample, len(items), "sample")
    except EdgesignError:  # a photo of the sample does not decode (the only error after the listing)
        full = _load_folder(p, pre, strict=False, progress=progress, listing=(classes, items))
        return Sample(full.stratified_sample(n, seed), len(full))


def natural_key(path: Path) -> list:
    """Sort key that orders A2.jpg before A10.jpg."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _entries(folder: Path) -> list[Path]:
    """A folder's entries; one that cannot be listed stops the load by name (a class silently missing would
    change every figure)."""
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise EdgesignError(f"cannot list {folder}: {exc.strerror or exc}") from None


def class_folders(root: Path) -> list[Path]:
    """A dataset's class sub-folders in name order (hidden ones left out)."""
    return sorted((d for d in _entries(root) if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def list_image_folder(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sorted sub-folder names) and (file, class index) pairs of an image folder."""
    classes = [d.name for d in class_folders(root)]
    items = []
    for ci, name in enumerate(classes):
        for f in sorted(_entries(root / name), key=natural_key):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                items.append((f, ci))
    if not classes or not items:
        raise EdgesignError(f"no images in {root}: expected one sub-folder per class holding JPEG/PNG files")
    return classes, items


def _load_folder(root: Path, pre: pp.Preprocess, strict: bool, progress: bool,
                 listing: tuple[list[str], list[tuple[Path, int]]] | None = None, what: str = "") -> Dataset:
    """A folder's photos at the model's input (``listing``: the classes and the items to decode, when the
    caller has listed the folder already and takes only some of it)."""
    classes, items = listing or list_image_folder(root)
    images = np.zeros((len(items), *pre.shape), np.uint8)
    ok = np.zeros(len(items), bool)
    digests: list[bytes] = [b""] * len(items)
    bad: list[str] = []

    def work(i: int) -> None:
        f = items[i][0]
        data = f.read_bytes()
        digests[i] = hashlib.sha256(f"{classes[items[i][1]]}/{f.name}".encode() + data).digest()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                images[i] = pp.to_array(img, pre)
            ok[i] = True
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            bad.append(str(f))

    with Progress(f"loading {what}{root}", len(items), enabled=progress) as bar, \
            ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for _ in pool.map(work, range(len(items))):
            bar.update()
    if bad:
        bad.sort()
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        if strict:
            raise EdgesignError(f"{len(bad)} unreadable image(s) in {root}: {shown}")
        print(f"warning: skipped {len(bad)} unreadable image(s) in {root}: {shown}", file=sys.stderr)
        if not ok.any():
            raise EdgesignError(f"no readable images in {root}")
    labels = np.asarray([c for _, c in items], np.int64)
    digest = hashlib.sha256(b"".join(sorted(digests))).hexdigest()
    return Dataset(images[ok], labels[ok], classes, str(root), digest, bad)


def _at_input(images: np.ndarray, pre: pp.Preprocess | None) -> np.ndarray:
    """Decoded uint8 images at the model's input, or as they are when ``pre`` is None."""
    return images if pre is None else np.stack([pp.array_to_array(img, pre) for img in images])


def _load_sign_mnist_csv(path: Path, pre: pp.Preprocess | None) -> Dataset:
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace").splitlines()
    rows = [line for line in text if line.strip()]
    if rows and rows[0].replace(" ", "").lower().startswith("label,pixel"):
        rows = rows[1:]  # the Kaggle header: label,pixel1,...,pixel784 (anything else is data, and checked)
    if not rows:
        raise EdgesignError(f"no rows in {path}")
    try:
        table = np.asarray([[int(v) for v in r.split(",")] for r in rows], np.int64)
    except ValueError:
        raise EdgesignError(f"{path}: not a Sign Language MNIST CSV (non-numeric values)") from None
    if table.ndim != 2 or table.shape[1] != 785:
        widths = sorted({len(r.split(",")) for r in rows})
        raise EdgesignError(
            f"{path}: expected 785 columns (label,pixel1..pixel784), found {', '.join(map(str, widths))}")
    labels = table[:, 0]
    if labels.min() < 0 or labels.max() > 24 or (labels == 9).any():
        raise EdgesignError(f"{path}: labels must be 0-24 without 9 (J), found {sorted(set(labels.tolist()))}")
    pixels = np.clip(table[:, 1:], 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    images = _at_input(pixels, pre)
    index = np.where(labels > 9, labels - 1, labels)
    return Dataset(images, index, list(SIGN_MNIST_CLASSES), str(path), hashlib.sha256(raw).hexdigest())


def _load_signs_h5(path: Path, pre: pp.Preprocess | None, split: str) -> Dataset:
    try:
        import h5py
    except ImportError:
        raise MissingExtra("reading HDF5 datasets", "h5") from None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise EdgesignError(f"cannot open HDF5 file {path}: {exc}") from None
    with f:
        parts = [s for s in ("train", "test") if f"{s}_set_x" in f and f"{s}_set_y" in f]
        if not parts:
            raise EdgesignError(f"{path}: expected train_set_x/train_set_y or test_set_x/test_set_y")
        part = parts[0] if split == "auto" else split
        if part not in parts:
            raise EdgesignError(f"{path} has no {split} split (has: {', '.join(parts)})")
        x, y = _h5_arrays(f, part, path)
        names = ([str(v.decode() if isinstance(v, bytes) else v) for v in f["list_classes"][:]]
                 if "list_classes" in f else [str(i) for i in range(int(y.max()) + 1)])
    if y.min() < 0 or y.max() >= len(names):
        raise EdgesignError(f"{path}:{part}: labels must be 0..{len(names) - 1} ({len(names)} classes), found "
                            f"{int(y.min())}..{int(y.max())}")
    images = _at_input(x, pre)
    digest = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Dataset(images, y, names, f"{path}:{part}", digest)


def _h5_arrays(f, part: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The split's images (N x H x W [x C], uint8) and labels, checked: never guessed."""
    import h5py

    xs, ys = f[f"{part}_set_x"], f[f"{part}_set_y"]
    if not isinstance(xs, h5py.Dataset) or not isinstance(ys, h5py.Dataset):
        raise EdgesignError(f"{path}: {part}_set_x and {part}_set_y must be datasets, not groups")
    x, y = np.asarray(xs[:]), np.asarray(ys[:]).reshape(-1)
    if len(x) == 0:
        raise EdgesignError(f"{path}: the {part} split is empty")
    if len(x) != len(y):
        raise EdgesignError(f"{path}: {len(x)} images but {len(y)} labels in the {part} split")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3, 4)):
        raise EdgesignError(f"{path}: {part}_set_x must hold images (N x H x W or N x H x W x C), got shape {x.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise EdgesignError(f"{path}: {part}_set_y must hold integer labels, got {y.dtype}")
    if np.issubdtype(x.dtype, np.floating):
        top = float(np.nanmax(x)) if x.size else 0.0
        if not np.isfinite(x).all() or x.min() < 0 or top > 255:
            raise EdgesignError(f"{path}: float images must be in [0, 1] or [0, 255]")
        x = x * 255.0 if top <= 1.0 else x
        x = np.round(x)
    elif x.dtype != np.uint8 and (x.min() < 0 or x.max() > 255):
        raise EdgesignError(f"{path}: images must be 0-255, found {x.min()}..{x.max()}")
    return x.astype(np.uint8), y.astype(np.int64)
