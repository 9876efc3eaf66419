"""A certified two-stage model: the hand stage, then a classifier on the hand's landmarks or on its crop.

The classifier's ``.tflite`` metadata names the hand stage it needs (model files and their sha256,
thresholds, what the classifier takes: landmark features of a version, or the hand crop), so one file is
the whole pipeline: ``predict``, ``evaluate``, ``benchmark``, ``check`` and the firmware suite run it with no
extra flags.

The rule for no hand: when the hand stage finds none, the answer is ``Nothing`` with probability 1.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import preprocess as pp
from .adapters import invoke_vector
from .certify import MISMATCH_WARNING, certificate_status
from .errors import EdgesignError
from .handcrop import crop_settings, hand_crop
from .handfeatures import FEATURE_VERSION, N_FEATURES, hand_features, handedness
from .handfiles import FILES
from .hands import STAGE_REVISION, Hand, HandSettings, HandStage, as_rgb
from .interpreter import load_backend, make_interpreter
from .runtime import Classifier, EdgeModel

NO_HAND_LABEL = "Nothing"


def class_index(classes: list[str], name: str) -> int:
    """Index of ``name`` in ``classes``, case-insensitively (``del`` is ``Del``)."""
    lowered = [c.lower() for c in classes]
    if name.lower() not in lowered:
        raise EdgesignError(f"class {name!r} is not one of the model's ({', '.join(classes)})")
    return lowered.index(name.lower())


def hand_stage_metadata(settings: HandSettings, classifier_input: str = "landmarks") -> dict[str, Any]:
    """What the classifier's metadata records about the hand stage it was trained and certified with (its
    settings, files and ``STAGE_REVISION``), and what the classifier takes from it: ``landmarks`` (features of
    ``FEATURE_VERSION``) or ``crop``."""
    from .handfiles import provenance

    meta = {"settings": settings.recorded(), "files": {f: FILES[f][1] for f in settings.files()},
            "revision": STAGE_REVISION,
            "no_hand": NO_HAND_LABEL, "handedness": "left hands are mirrored", "source": provenance()}
    if classifier_input == "crop":
        return {**meta, "input": "crop", "crop": crop_settings()}
    return {**meta, "input": "landmarks", "features": FEATURE_VERSION}


def files_digest(files: list[str]) -> str:
    """sha256 over the bytes of the files in order: the identity of a pipeline's certification data."""
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def stage_revision_warning(name: str, revision: int | None) -> str | None:
    """The warning for a certified file made with another revision of the hand stage's arithmetic (None when it
    is this one's, or when the file predates recorded revisions: ``info`` says so)."""
    if revision is None or revision == STAGE_REVISION:
        return None
    return (f"warning: {name} was certified with revision {revision} of the hand stage and this edgesign runs "
            f"revision {STAGE_REVISION}: its certified accuracy may not hold; `edgesign check` re-measures it")


def _stage_settings(path: Path, settings: dict[str, Any]) -> HandSettings:
    """The hand stage a file's metadata asks for; one it cannot run (a setting or value from a newer edgesign) is
    one error line."""
    try:
        return HandSettings(**settings)
    except (TypeError, ValueError) as e:
        raise EdgesignError(f"{path} asks for a hand stage this edgesign cannot run ({e}); upgrade edgesign") from None


@dataclass
class Prepared:
    """What the hand stage hands the classifier for one image or frame: the hand and the classifier's input
    (landmark features, or the crop's pixels at the classifier's size), both None when no hand was found."""

    hand: Hand | None
    features: np.ndarray | None
    seconds: float


class StagedPipeline(Classifier):
    """The hand stage + a classifier, with the surface of :class:`edgesign.runtime.EdgeModel`; the subclasses
    say what the classifier takes from the hand (``_input``) and how it runs (``classify_features``)."""

    edgetpu = False
    personal = None

    def __init__(self, path: Path, content: bytes, metadata: dict[str, Any], *, backend: str = "auto",
                 threads: int | None = None, hand_models: str | os.PathLike | None = None) -> None:
        self.path, self.size_bytes, self.metadata = path, len(content), metadata
        stage = metadata["hand_stage"]
        self._check_input(stage)
        for name, digest in stage["files"].items():
            if FILES.get(name, ("", ""))[1] != digest:
                raise EdgesignError(f"{path} needs hand model {name} with sha256 {digest[:12]}..., which this "
                                    "edgesign does not know")
        self.settings = _stage_settings(path, stage["settings"])
        self.stage = HandStage(self.settings, hand_models, backend, threads)
        self.backend = load_backend(backend)
        self.labels: list[str] = list(metadata["labels"])
        self._load_classifier(content, backend, threads)
        self.certificate_status = certificate_status(content, metadata)
        warning = stage_revision_warning(path.name, stage.get("revision")) if self.certificate else None
        if self.certificate_status == "MISMATCH":
            warning = MISMATCH_WARNING.format(name=path.name)
        if warning:
            import sys

            print(warning, file=sys.stderr)
        self.no_hand = class_index(self.labels, stage.get("no_hand", NO_HAND_LABEL))
        self.first_inference_seconds: float | None = None
        self._previous: Hand | None = None
        self.last: Prepared | None = None

    def _check_input(self, stage: dict[str, Any]) -> None:
        raise NotImplementedError

    def _load_classifier(self, content: bytes, backend: str, threads: int | None) -> None:
        raise NotImplementedError

    def _input(self, rgb, hand: Hand) -> np.ndarray:
        """The classifier's input for a found hand."""
        raise NotImplementedError

    def classify_features(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for one hand's classifier input."""
        raise NotImplementedError

    @property
    def certificate(self) -> dict[str, Any] | None:
        return self.metadata.get("certificate")

    # --- the two halves (the hand stage may run on a worker thread, the classifier on the caller's) ---

    def prepare(self, image, track: bool = False) -> Prepared:
        t0 = time.perf_counter()
        rgb = as_rgb(image)
        hand = self.stage.track(rgb, self._previous) if track else self.stage.detect(rgb)
        self._previous = hand if track else None
        feats = self._input(rgb, hand) if hand is not None else None
        return Prepared(hand, feats, time.perf_counter() - t0)

    def frame_input(self, frame: np.ndarray, first: bool = False) -> Prepared:
        """A stream frame: the hand is tracked from the previous frame; a stream's ``first`` frame detects it anew
        (the frame before was another video's)."""
        if first:
            self._previous = None
        return self.prepare(frame, track=True)

    def file_input(self, path: str | os.PathLike) -> Prepared:
        return self.prepare(pp.open_image(path))

    def item_input(self, item: str | np.ndarray) -> Prepared:
        """A dataset's item: a photo file, or an image array (a .csv or .h5 dataset's, as stored)."""
        return self.prepare(item) if isinstance(item, np.ndarray) else self.file_input(item)

    def classify_input(self, prepared: Prepared) -> np.ndarray:
        self.last = prepared
        if prepared.features is None:
            probs = np.zeros(len(self.labels), np.float32)
            probs[self.no_hand] = 1.0
            return probs
        return self.classify_features(prepared.features)

    # --- single calls -----------------------------------------------------------------------------

    def classify_file(self, path: str | os.PathLike) -> np.ndarray:
        return self.classify_input(self.file_input(path))

    def classify_frame(self, frame: np.ndarray) -> np.ndarray:
        return self.classify_input(self.prepare(frame))

    def probabilities_items(self, items: list, progress: str | None = None) -> tuple[np.ndarray, list[int]]:
        """One probability row per dataset item (a photo file, or an image array as a .csv or .h5 file stores it),
        and the indices of the items that cannot be read (a broken photo: a row of zeros, for the caller to leave
        out and name; ``evaluate`` and ``benchmark --data`` both count the rest)."""
        unreadable: list[int] = []

        def classify(numbered: tuple[int, str | np.ndarray]) -> np.ndarray | float:
            try:
                prepared = self.item_input(numbered[1])
            except EdgesignError:
                unreadable.append(numbered[0])
                return 0.0
            return self.classify_input(prepared)
        return self._rows(classify, list(enumerate(items)), progress), unreadable


class HandPipeline(StagedPipeline):
    """Hand stage + landmark classifier (the one a user can enrol their own hand on)."""

    signing_hand = "auto"  # right or left: a personal model's user (see features_of)

    def _check_input(self, stage: dict[str, Any]) -> None:
        if stage.get("input", "landmarks") != "landmarks" or stage.get("features") != FEATURE_VERSION:
            raise EdgesignError(f"{self.path}: features {stage.get('features')!r} are not supported by this edgesign "
                                f"({FEATURE_VERSION})")

    def _load_classifier(self, content: bytes, backend: str, threads: int | None) -> None:
        self.interpreter = make_interpreter(content, self.backend, threads)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        if [int(v) for v in self._in["shape"]] != [1, N_FEATURES]:
            raise EdgesignError(f"{self.path}: expected a [1, {N_FEATURES}] landmark-feature input")
        scaling = self.metadata["feature_scaling"]
        self.mean = np.asarray(scaling["mean"], np.float32)
        self.std = np.asarray(scaling["std"], np.float32)
        self.personal = self._personal(content, self.metadata.get("personal"))
        self.signing_hand = (self.metadata.get("personal") or {}).get("hand", "auto")

    def _input(self, rgb, hand: Hand) -> np.ndarray:
        return self.features_of(hand)

    def base_only(self) -> HandPipeline:
        """This pipeline as its base model reads (a personal file's head and signing hand set aside, the interpreters
        shared): what the certificate it carries certifies."""
        base = copy.copy(self)
        base.personal, base.signing_hand = None, "auto"
        return base

    def features_of(self, hand: Hand) -> np.ndarray:
        """The classifier's features of a found hand (see :meth:`landmark_features`)."""
        return self.landmark_features(hand.world, hand.landmarks[:, :2], hand.right)

    def landmark_features(self, world: np.ndarray, image_xy: np.ndarray, right: float) -> np.ndarray:
        """The classifier's features of a hand's landmarks. A personal model enrolled as a right (left) hand takes
        every hand as one; otherwise the handedness score ``right`` decides (a left hand is mirrored)."""
        return hand_features(world, image_xy, handedness(self.signing_hand, right))

    def _personal(self, content: bytes, personal: dict[str, Any] | None):
        """The user's enrolled head, after checking the classifier is the one it was enrolled on."""
        if not personal:
            return None
        from .certify import weights_sha256
        from .enrol import Personal

        if weights_sha256(content) != personal["base"]["weights_sha256"]:
            raise EdgesignError(f"{self.path}: the classifier's weights are not those of the base model it was "
                                f"enrolled on ({personal['base']['model']}): refused")
        return Personal.from_metadata(personal)

    def classify_features(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for one hand's features: the base classifier, blended with the user's head."""
        probs = self.base_probabilities(features)
        if self.personal is not None:
            probs = self.personal.apply(((features - self.mean) / self.std)[None], probs[None])[0]
        return probs

    def base_probabilities(self, features: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        probs = invoke_vector(self.interpreter, (features - self.mean) / self.std, (self._in, self._out))
        if self.first_inference_seconds is None:
            self.first_inference_seconds = time.perf_counter() - t0
        return probs


class CropPipeline(StagedPipeline):
    """Hand stage + an image classifier on the hand crop (:mod:`edgesign.handcrop`)."""

    def _check_input(self, stage: dict[str, Any]) -> None:
        if stage.get("crop") != crop_settings():
            raise EdgesignError(f"{self.path}: hand crops {stage.get('crop')!r} are not supported by this edgesign "
                                f"({crop_settings()})")

    def _load_classifier(self, content: bytes, backend: str, threads: int | None) -> None:
        self.image_model = EdgeModel(self.path, backend=backend, threads=threads, device="cpu", warn=False,
                                     content=content)
        self.interpreter, self.preprocess = self.image_model.interpreter, self.image_model.preprocess

    def _input(self, rgb, hand: Hand) -> np.ndarray:
        return pp.to_array(hand_crop(rgb, hand.landmarks, hand.right), self.preprocess)

    def classify_features(self, features: np.ndarray) -> np.ndarray:
        probs = self.image_model.probabilities(features)
        self.first_inference_seconds = self.image_model.first_inference_seconds
        return probs

    base_probabilities = classify_features


def pipeline_class(stage: dict[str, Any]) -> type[StagedPipeline]:
    """The pipeline a classifier's hand-stage metadata describes (files without ``input`` are landmark ones)."""
    return CropPipeline if stage.get("input") == "crop" else HandPipeline
