"""Accuracy, per-class accuracy and the confusion matrix, as numbers, JSON and a PNG (no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import atomic


@dataclass
class Metrics:
    accuracy: float
    per_class: dict[str, float]
    confusion: np.ndarray  # rows: true class, columns: predicted class
    class_names: list[str]
    n: int
    data: str
    predictions: np.ndarray
    skipped: list[str] = field(default_factory=list)  # files that could not be read, left out of the figures

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "n": self.n, "accuracy": round(self.accuracy, 6),
                "per_class_accuracy": {k: round(v, 6) for k, v in self.per_class.items()},
                "class_names": self.class_names, "confusion_matrix": self.confusion.tolist()}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def compute_metrics(y_true: np.ndarray, probs: np.ndarray, class_names: list[str], data: str) -> Metrics:
    y_pred = probs.argmax(axis=1)
    n = len(class_names)
    cm = confusion_matrix(y_true, y_pred, n)
    support = cm.sum(axis=1)
    per_class = {class_names[i]: float(cm[i, i] / support[i]) for i in range(n) if support[i]}
    return Metrics(float((y_pred == y_true).mean()) if len(y_true) else 0.0, per_class, cm,
                   list(class_names), int(len(y_true)), data, y_pred)


def write_metrics_files(m: Metrics, folder: Path, prefix: str = "eval") -> dict[str, Path]:
    """``<prefix>_metrics.json`` and ``<prefix>_confusion_matrix.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    js = atomic.write_json(folder / f"{prefix}_metrics.json", m.to_dict())
    png = draw_confusion_png(m.confusion, m.class_names, folder / f"{prefix}_confusion_matrix.png",
                             title=f"{m.data}: accuracy {100 * m.accuracy:.2f} % (n={m.n})")
    return {"json": js, "png": png}


def draw_confusion_png(cm: np.ndarray, names: list[str], path: Path, title: str = "") -> Path:
    """A row-normalized confusion matrix as a heat map with counts (Pillow only). Rows are the classes the data
    holds, columns those and every class predicted: data with a few of the model's classes gets a small picture."""
    rows = [i for i in range(len(names)) if cm[i].sum()] or list(range(len(names)))
    cols = [j for j in range(len(names)) if j in rows or cm[:, j].sum()]
    cell = max(18, min(40, 900 // max(len(rows), len(cols), 1)))
    margin_l, margin_t = 70, 60
    font = ImageFont.load_default()
    w = max(margin_l + len(cols) * cell + 20, 20 + int(font.getlength(title)))
    h = margin_t + len(rows) * cell + 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 10), title, fill="black", font=font)
    d.text((margin_l, h - 25), "predicted", fill="black", font=font)
    d.text((5, margin_t - 15), "true", fill="black", font=font)
    frac = cm / cm.sum(axis=1, keepdims=True).clip(min=1)
    chars = max(4, 2 * cell // 7)  # column labels alternate between two lines: two cells wide each
    for k, j in enumerate(cols):
        d.text((margin_l + k * cell + 2, margin_t - 30 + (k % 2) * 12), names[j][:chars], fill="black", font=font)
    for r, i in enumerate(rows):
        d.text((5, margin_t + r * cell + cell // 3), names[i][:9], fill="black", font=font)
        for k, j in enumerate(cols):
            v = frac[i, j]
            color = (int(255 * (1 - v)), int(255 * (1 - 0.6 * v)), 255) if i == j else \
                (255, int(255 * (1 - v)), int(255 * (1 - v)))
            x0, y0 = margin_l + k * cell, margin_t + r * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=color, outline=(220, 220, 220))
            if cm[i, j]:
                d.text((x0 + 3, y0 + cell // 3), str(int(cm[i, j])), fill="black", font=font)
    with atomic.atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path
