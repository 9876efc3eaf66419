"""Model cards: what a shipped model was trained on, and the accuracy and size it was certified at.

    python -m edgesign.converters.card RUN_DIR REPORT.json OUT.md [--recipe models/x.toml] [--latency-ms X]

Every figure comes from the run's files and the conversion report, never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from edgesign import atomic
from edgesign.certify import certificate_figures


def shown_path(path: str, base: Path) -> str:
    """A data path as a card shows it: relative to ``base`` (the project) when it is beside it, as
    ``../shared/data/...`` is, so a card does not carry the folder one machine kept the data in."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, base)
    return rel if not rel.startswith(os.path.join(os.pardir, os.pardir)) else path


def render(run: Path, report: dict, recipe: str | None, latency_ms: float | None, title: str,
           base: Path | None = None) -> str:
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    test = json.loads((run / "test_metrics.json").read_text()) if (run / "test_metrics.json").exists() else None
    t, pre, ev, sz = config["train"], config["preprocess"], report["evaluation"], report["sizes"]
    cert = certificate_figures(ev, report["max_drop"], report.get("min_accuracy"))
    where = base or Path.cwd()
    lines = [
        f"# {title}",
        "",
        f"Certified {report['date']} by edgesign {report['edgesign']} (`{report['output']}`).",
        "",
        "## What it is",
        f"- model: `{t['model']}`, {summary['params']:,} parameters; input {pre['height']}x{pre['width']}x"
        f"{pre['channels']}, {pre['resize'].replace('_', ' ')}, scaling `{pre['scaling']}`",
        f"- classes ({len(config['classes'])}): {' '.join(config['classes'])}",
        f"- target: `{report['target']}`, {report['io_type']} input and output",
        _hand_crop_line(t),
        "",
        "## Data",
        f"- training: {', '.join(f'`{shown_path(d, where)}`' for d in [t['data'], *t.get('more_data', [])])}: {config['n_train']} images for training, {config['n_val']} for validation "
        f"(split `{t.get('val_split', 'random')}`, stratified, seed {t['seed']}); content sha256 "
        f"`{config['data_digest'][:16]}`",
        f"- test (evaluated only, never tuned on): `{shown_path(ev['data'], where)}`, {ev['n']} images, sha256 `{ev['digest'][:16]}`",
        f"- calibration: {report['calibration']['n']} images, stratified sample of `{shown_path(report['calibration']['data'], where)}`",
        "",
        "## Recipe",
        f"- epochs {t['epochs']} (ran {summary['epochs_run']}, early stopping patience {t['patience']}), batch "
        f"{t['batch_size']}, AdamW lr {t['learning_rate']} with warm-up and cosine decay, weight decay "
        f"{t['weight_decay']}, label smoothing {t['label_smoothing']}, class weights {t['class_weights']}",
        f"- augmentation (in the tf.data pipeline, not in the model): {json.dumps(t['augment']) if t['augment'] else 'defaults'}",
        f"- model options: {json.dumps(t['model_options'])}",
        f"- initial weights: `{t['weights']}`" if t.get("weights") else None,
        f"- reproduce: `edgesign train --recipe {recipe} --data-root ../shared/data`" if recipe else "",
        f"- training time on {summary.get('machine', 'this machine (2 CPU cores)')}: "
        f"{summary['train_seconds'] / 60:.1f} min, "
        f"{summary['train_images_per_second']:.0f} images/s",
        "",
        "## Certified figures",
        "| figure | value |",
        "| --- | --- |",
        f"| best validation accuracy (float) | {100 * summary['best_val_accuracy']:.2f} % |",
        f"| test accuracy, float (Keras) | {cert['float']} |",
        f"| test accuracy, int8 (device runtime) | {cert['int8']} |",
        f"| drop | {cert['drop']} |",
        f"| top-1 agreement float vs int8 | {cert['agreement']} |",
        f"| size float32 / int8 | {sz['float32_bytes'] / 1e6:.2f} MB / {sz['bytes_with_metadata'] / 1e6:.2f} MB "
        f"({sz['ratio_to_float32']:.3f}x) |",
        f"| gzip size int8 | {sz['gzip_bytes'] / 1e6:.2f} MB |",
    ]
    if latency_ms is not None:
        lines.append(f"| int8 latency, p50, 1 image, `edgesign benchmark` defaults (threads = cores), this machine | "
                     f"{latency_ms:.3f} ms |")
    if test:
        worst = sorted(test["per_class_accuracy"].items(), key=lambda kv: kv[1])[:6]
        lines += ["", "## Known weaknesses",
                  "The test photos were shot against other backgrounds than the training photos. Weakest "
                  "classes on the test split (float): " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in worst) + "."]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _hand_crop_line(t: dict) -> str | None:
    if not t.get("hand_crop"):
        return None
    h = t["hand_crop"]
    return (f"- a hand pipeline: the hand stage (palm detector {h['palm']}, landmark model {h['landmarks']}, zoomed-out "
            f"try {h.get('zoom_out', 0)}, light {h.get('light', 'none')}) finds the hand, the model sees its crop; the test figures below are the "
            "pipeline's: every test photo counts, a photo without a found hand as `Nothing`")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("report")
    ap.add_argument("out")
    ap.add_argument("--recipe")
    ap.add_argument("--latency-ms", type=float)
    ap.add_argument("--title", default="asl29: the default edgesign model")
    args = ap.parse_args()
    report = json.loads(Path(args.report).read_text())
    atomic.write_text(args.out, render(Path(args.run), report, args.recipe, args.latency_ms, args.title))


if __name__ == "__main__":
    main()
