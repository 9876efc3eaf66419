"""Model cards for every recipe in models/ that has a run, and one table comparing them.

    python bench/model_cards.py [--runs runs] [--out models/cards]

For each ``models/<name>.toml`` whose run folder ``runs/<name>`` holds an int8 conversion report
(``edgesign convert runs/<name> --int8 --eval ... -o runs/<name>/<name>_int8.tflite``), writes
``models/cards/<name>.md`` and a row of ``models/cards/README.md``. Every figure is read from the
run's files and the report (``edgesign.converters.card``). A section someone wrote into a card by hand (a
``## `` heading the generator does not write, e.g. figures measured with ``edgesign evaluate`` on other signers)
is kept at the card's end when the card is regenerated.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgesign import atomic  # noqa: E402
from edgesign.converters.card import render  # noqa: E402


def _report(run: Path, name: str) -> Path | None:
    for candidate in (run / f"{name}_int8.report.json", run / "asl29_int8.report.json", run / "int8.report.json"):
        if candidate.exists():
            return candidate
    return None


def _earlier_rows(table: Path) -> dict[str, str]:
    """The table's rows by recipe name: a recipe whose run is not on this machine keeps the row (and card) it had."""
    if not table.exists():
        return {}
    return {line.split("](")[0][3:]: line for line in table.read_text().splitlines() if line.startswith("| [")}


def _split(card: str) -> tuple[str, list[tuple[str, str]]]:
    """(the title part, the ``## `` sections as (heading, text up to the next heading), in order)."""
    title, *parts = re.split(r"(?m)^(?=## )", card)
    return title, [(part.splitlines()[0].strip(), part) for part in parts]


def sections(card: str) -> list[tuple[str, str]]:
    """A card's ``## `` sections as (heading, text up to the next heading), in order; the title part is left out."""
    return _split(card)[1]


def with_hand_written(new: str, old: str) -> str:
    """The generated card ``new`` with the sections of the earlier card ``old`` that the generator does not write,
    each kept after the section it followed there (after the title when it came first)."""
    title, generated = _split(new)
    written = {heading for heading, _ in generated}
    after: dict[str | None, list[str]] = {}
    anchor = None
    for heading, text in sections(old):
        if heading in written:
            anchor = heading
        else:
            after.setdefault(anchor, []).append(text)
    if not after:
        return new
    out = [title, *after.get(None, [])]
    for heading, text in generated:
        out += [text, *after.get(heading, [])]
    return "\n\n".join(p.strip("\n") for p in out if p.strip()) + "\n"


def _shipped_recipe() -> str | None:
    from edgesign.metadata import read_metadata
    from edgesign.runtime import image_model_path

    return (read_metadata(image_model_path().read_bytes()) or {}).get("recipe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(ROOT / "runs"))
    ap.add_argument("--out", default=str(ROOT / "models" / "cards"))
    args = ap.parse_args()
    runs, out = Path(args.runs), Path(args.out)
    shipped = _shipped_recipe()
    earlier = _earlier_rows(out / "README.md")
    rows = []
    for recipe in sorted((ROOT / "models").glob("*.toml")):
        name = recipe.stem
        run = runs / name
        report_path = _report(run, name) if run.is_dir() else None
        if report_path is None or not (run / "summary.json").exists():
            kept = earlier.get(name)
            print(f"{name}: no run with an int8 report in {run}, "
                  f"{'its card and row kept' if kept else 'skipped'}", file=sys.stderr)
            rows += [kept] if kept else []
            continue
        report = json.loads(report_path.read_text())
        is_default = shipped is not None and Path(shipped).stem == name
        title = f"{name}: {'the shipped default model (models/asl29.tflite)' if is_default else 'candidate, not shipped'}"
        rel = f"models/{recipe.name}"
        card = out / f"{name}.md"
        old = card.read_text() if card.exists() else ""
        atomic.write_text(card, with_hand_written(render(run, report, rel, None, title, base=ROOT), old))
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())
        t, pre, ev = config["train"], config["preprocess"], report["evaluation"]
        rows.append(
            f"| [{name}]({name}.md){' (shipped)' if is_default else ''} | {t['model']}{' on the hand crop' if t.get('hand_crop') else ''} | "
            f"{pre['height']}x{pre['width']}x{pre['channels']} | "
            f"{'yes' if t['augment'].get('bgswap') else 'no'} | {t.get('val_split', 'random')} | "
            f"{100 * summary['best_val_accuracy']:.2f} % | "
            f"{100 * ev['float_accuracy']:.2f} % | {100 * ev['quantized_accuracy']:.2f} % | "
            f"{ev['drop_points']:.2f} | {report['sizes']['bytes_with_metadata'] / 1e6:.2f} MB | "
            f"{summary['params'] / 1e6:.1f} M | {summary['epochs_run']} | {summary['train_seconds'] / 60:.1f} min |")
    table = [
        "# Model cards",
        "",
        "Every recipe in `models/` that was trained and converted on the development machine (2 CPU cores).",
        "Validation: carved from the training photos (`blocks` holds out whole shooting sessions; models are",
        "selected on it; `random` puts near-duplicates on both sides and says little); test: the 870",
        "photos of the test split, shot against other backgrounds, evaluated only. Test figures come from",
        "each model's int8 conversion report (float through Keras, int8 through the device runtime).",
        "Regenerate with `python bench/model_cards.py`.",
        "",
        "| recipe | model | input | background swap | val split | best val | test float | test int8 | drop (points) "
        "| int8 size | params | epochs | training time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
    atomic.write_text(out / "README.md", "\n".join(table))
    print(f"wrote {len(rows)} cards and {out / 'README.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
