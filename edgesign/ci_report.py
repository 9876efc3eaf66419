"""The accuracy gate's result where CI systems look for it: a Markdown summary (GitHub Actions shows
``$GITHUB_STEP_SUMMARY`` on the run's page) and JUnit XML (GitLab, Jenkins and most CI read it as tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from . import atomic


def gate_markdown(result: dict[str, Any] | None, title: str) -> str:
    """One gate as a Markdown section; ``result`` None means nothing was measured (no --eval)."""
    if result is None:
        return (f"### {title}: NOT CERTIFIED\n\nNo held-out data was given (`--eval`): the converted model's "
                "accuracy was not measured, and nothing gates it.\n")
    verdict = "passed" if result["passed"] else "FAILED"
    floor = result.get("min_accuracy")
    rows = [("float accuracy", f"{100 * result['float_accuracy']:.2f} %"),
            ("converted accuracy", f"{100 * result['quantized_accuracy']:.2f} %"),
            ("drop", f"{result['drop_points']:.2f} points (budget {result.get('max_drop')})"),
            *([("images lost / gained", f"{result['lost']} / {result['gained']} (the drop's 95 % interval "
                                        f"{result['drop_interval_points'][0]:.2f} to "
                                        f"{result['drop_interval_points'][1]:.2f} points)")]
              if "lost" in result else []),
            ("accuracy floor", f"{100 * floor:.2f} %" if floor is not None else "none"),
            ("top-1 agreement", f"{100 * result['top1_agreement']:.2f} %"),
            ("held-out data", f"{result['n']} images of `{result.get('data')}`")]
    lines = [f"### {title}: {verdict}", "", "| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    if result.get("failure"):
        lines += ["", f"**{result['failure']}**"]
    return "\n".join(lines) + "\n"


def gate_junit(result: dict[str, Any] | None, name: str) -> str:
    """The gate as a JUnit test suite: one case for the budget, one for the floor (skipped when unset)."""
    cases = []
    if result is None:
        cases.append(("certified", "no --eval data: the model was not measured"))
    else:
        drop_ok = result.get("max_drop") is None or result["drop_points"] <= result["max_drop"] + 1e-9
        cases.append(("accuracy drop within budget", None if drop_ok else
                      f"drop {result['drop_points']:.2f} points over the budget of {result['max_drop']}"))
        floor = result.get("min_accuracy")
        if floor is not None:
            ok = result["quantized_accuracy"] >= floor - 1e-12
            cases.append(("accuracy above floor", None if ok else
                          f"accuracy {100 * result['quantized_accuracy']:.2f} % under {100 * floor:.2f} %"))
    failures = sum(1 for _, f in cases if f)
    body = "".join(f"  <testcase classname={quoteattr(name)} name={quoteattr(case)}>"
                   + (f"<failure message={quoteattr(f)}/>" if f else "") + "</testcase>\n" for case, f in cases)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="edgesign" tests="{len(cases)}" '
            f'failures="{failures}" errors="0">\n{body}</testsuite>\n')


def write_gate_reports(result: dict[str, Any] | None, title: str, *, markdown: str | None = None,
                       junit: str | None = None) -> list[Path]:
    """Write the summary to ``markdown`` and, when set, append it to ``$GITHUB_STEP_SUMMARY``; JUnit to
    ``junit``. Returns the files written."""
    written = []
    text = gate_markdown(result, title)
    if markdown:
        atomic.write_text(markdown, text)
        written.append(Path(markdown))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")
        written.append(Path(step_summary))
    if junit:
        atomic.write_text(junit, gate_junit(result, title))
        written.append(Path(junit))
    return written
