"""Float vs PTQ int8 vs QAT vs 50 % / 75 % pruned + int8 for a trained run, in one table.

    python bench/convert_bench.py runs/asl29-resnet18 [--out bench/results/convert]

Each row is a real `edgesign convert` with the gate on the test split, then `edgesign benchmark`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EDGESIGN_DATA", ROOT.parent / "shared" / "data"))

from edgesign.targets import TARGETS  # noqa: E402


def variants() -> list[tuple[str, list[str]]]:
    """One row per target of the table (the Edge TPU compiles the int8 row's model: not a row of its own),
    and each pruning target at 50 % and 75 % sparsity."""
    rows = []
    for t in TARGETS:
        if t.edgetpu:
            continue
        for sparsity in ((0.5, 0.75) if t.prune else (None,)):
            flags = ["--target", t.name] + (["--prune", str(sparsity)] if sparsity else [])
            rows.append((f"{t.name} ({sparsity:.0%} sparse)" if sparsity else t.name, flags))
    return rows


def edgesign(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "edgesign.cli", *args], capture_output=True, text=True, env=env)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--out", default="bench/results/convert")
    ap.add_argument("--finetune-epochs", default="2")
    ap.add_argument("--only", help="comma-separated variant names")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = DATA / "asl-photos" / "train", DATA / "asl-photos" / "test"
    rows = []
    for name, flags in variants():
        if args.only and name not in args.only.split(","):
            continue
        model = out / (name.replace(" ", "_").replace("%", "pct").replace("(", "").replace(")", "") + ".tflite")
        r = edgesign("convert", args.run, *flags, "--calib", str(train), "--eval", str(test),
                     "--finetune-epochs", args.finetune_epochs, "-o", str(model))
        if r.returncode != 0:
            print(f"{name}: failed\n{r.stderr[-1500:]}", file=sys.stderr)
            continue
        rep = json.loads(model.with_suffix(".report.json").read_text())
        b = edgesign("benchmark", str(model), "--json", "--runs", "300")
        lat = json.loads(b.stdout)[0]["p50_ms"] if b.returncode == 0 else None
        ev, sz = rep["evaluation"], rep["sizes"]
        rows.append({"variant": name, "accuracy": ev["quantized_accuracy"], "float_accuracy": ev["float_accuracy"],
                     "drop_points": ev["drop_points"], "agreement": ev["top1_agreement"], "bytes": sz["bytes"],
                     "gzip_bytes": sz["gzip_bytes"], "float32_bytes": sz["float32_bytes"],
                     "sparsity": rep["sparsity_tflite"], "p50_ms": lat})
        print(json.dumps(rows[-1]), file=sys.stderr)
    lines = ["| variant | test accuracy | drop (points) | agreement | size MB | x float | gzip MB | gzip x float | sparsity | p50 ms |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        f = r["float32_bytes"]
        lines.append(f"| {r['variant']} | {100 * r['accuracy']:.2f} % | {r['drop_points']:.2f} | "
                     f"{100 * r['agreement']:.2f} % | {r['bytes'] / 1e6:.2f} | {r['bytes'] / f:.3f} | "
                     f"{r['gzip_bytes'] / 1e6:.2f} | {r['gzip_bytes'] / f:.3f} | {r['sparsity']:.2f} | {r['p50_ms']} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    (out / "rows.json").write_text(json.dumps(rows, indent=2))
    print(table)


if __name__ == "__main__":
    main()
