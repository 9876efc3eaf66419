"""The English letter model the fingerspelling reader ships with: letter trigram counts over a word list.

    python -m training.letter_counts [--words FILE] [-o models/letters-en.json]

Without ``--words`` the word list is SCOWL's ``american-english`` from the Debian package ``wamerican`` (pinned
version), fetched by Debian's own client (``apt-get download wamerican=VERSION``) into a temporary folder. Every word is lowercased;
words with other characters than a-z (possessives, accents) are left out, names are kept (people fingerspell
names). Each word counts once, padded with two word edges before it and one after (``__cat_``), so bigram and
unigram counts follow from the trigrams (``edgesign.letters`` interpolates them on the device).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from edgesign import atomic
from edgesign.letters import EDGE, FORMAT, SYMBOLS

WORD_PACKAGE, WORD_VERSION = "wamerican", "2020.12.07-2"  # Debian 12's; pinned, so the counts are reproducible
WORD_FILE = "usr/share/dict/american-english"
NOTICE = ("Counted from SCOWL (Spell Checker Oriented Word Lists), american-english as packaged by Debian in "
          "wamerican. Copyright 2000-2011 by Kevin Atkinson. Permission to use, copy, modify, distribute and sell "
          "these word lists, the associated scripts, the output created from the scripts, and its documentation for "
          "any purpose is hereby granted without fee, provided that the above copyright notice appears in all "
          "copies and that both that copyright notice and this permission notice appear in supporting "
          "documentation. Kevin Atkinson makes no representations about the suitability of this array for any "
          "purpose. It is provided \"as is\" without express or implied warranty.")


def words_of(lines: Iterable[str]) -> list[str]:
    """The distinct lowercase a-z words of a word list (one word a line)."""
    letters = set(SYMBOLS) - {EDGE}
    return sorted({w for w in (line.strip().lower() for line in lines) if w and set(w) <= letters})


def trigram_counts(words: Iterable[str]) -> Counter:
    """Letter trigrams of each word padded ``__word_``: every symbol after two before it, the word's end too."""
    counts: Counter = Counter()
    for w in words:
        padded = EDGE * 2 + w + EDGE
        counts.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return counts


def debian_word_list(folder: Path) -> tuple[list[str], str]:
    """SCOWL's american-english through ``apt-get download wamerican=VERSION``: (its lines, the version)."""
    run = {"cwd": folder, "check": True, "capture_output": True, "text": True}
    subprocess.run(["apt-get", "download", f"{WORD_PACKAGE}={WORD_VERSION}"], **run)
    deb = next(folder.glob(f"{WORD_PACKAGE}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), "root"], **run)
    version = deb.name.split("_")[1]
    return (folder / "root" / WORD_FILE).read_text(encoding="utf-8", errors="replace").splitlines(), version


def letter_model_record(words: list[str], source: str) -> dict:
    counts = trigram_counts(words)
    return {"format": FORMAT, "symbols": SYMBOLS, "source": source, "words": len(words),
            "licence": NOTICE, "trigrams": dict(sorted(counts.items()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", help="a word list, one word a line (default: Debian's wamerican)")
    ap.add_argument("-o", "--out", default=str(Path(__file__).resolve().parents[1] / "models" / "letters-en.json"))
    args = ap.parse_args()
    if args.words:
        lines, source = Path(args.words).read_text(encoding="utf-8").splitlines(), Path(args.words).name
    else:
        with tempfile.TemporaryDirectory() as tmp:
            lines, version = debian_word_list(Path(tmp))
        source = f"SCOWL american-english, Debian package {WORD_PACKAGE} {version}"
    words = words_of(lines)
    atomic.write_text(Path(args.out), json.dumps(letter_model_record(words, source), separators=(",", ":")) + "\n")
    print(f"{len(words)} words, {args.out}")


if __name__ == "__main__":
    main()
