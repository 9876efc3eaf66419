"""The Edge TPU step: run edgetpu_compiler when it is on PATH, else check operators against its table."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgesign.inspect import edgetpu_compatibility

COMPILE_ELSEWHERE = ("edgetpu_compiler is not on PATH (it is an x86-64 Debian package from Coral's apt repository: "
                     "https://coral.ai/docs/edgetpu/compiler/); compile on such a machine with "
                     "'edgetpu_compiler -s -o OUTDIR MODEL.tflite'")


def parse_compiler_log(text: str) -> dict[str, Any]:
    """Operations mapped or not (with reasons), on/off-chip parameter memory, subgraphs."""
    out: dict[str, Any] = {"ops": []}
    patterns = {
        "on_chip_memory": r"On-chip memory used for caching model parameters:\s*(.+)",
        "on_chip_remaining": r"On-chip memory remaining for caching model parameters:\s*(.+)",
        "off_chip_memory": r"Off-chip memory used for streaming uncached model parameters:\s*(.+)",
        "subgraphs": r"Number of Edge TPU subgraphs:\s*(\d+)",
        "total_operations": r"Total number of operations:\s*(\d+)",
        "operations_mapped": r"Number of operations that will run on Edge TPU:\s*(\d+)",
        "operations_on_cpu": r"Number of operations that will run on CPU:\s*(\d+)",
    }
    for key, pat in patterns.items():
        m = re.search(pat, text)
        if m:
            out[key] = int(m.group(1)) if m.group(1).isdigit() else m.group(1).strip()
    for m in re.finditer(r"^(\w+)\s+(\d+)\s+(Mapped to Edge TPU|.+?)\s*$", text, re.M):
        if m.group(1) in ("Operator", "Number"):
            continue
        out["ops"].append({"operator": m.group(1), "count": int(m.group(2)), "status": m.group(3)})
    return out


def compile_or_check(model_path: Path) -> dict[str, Any]:
    compiler = shutil.which("edgetpu_compiler")
    content = model_path.read_bytes()
    check = edgetpu_compatibility(content)
    if compiler is None:
        print(f"note: {COMPILE_ELSEWHERE}", file=sys.stderr)
        verdict = "all operators map to the Edge TPU" if check["all_supported"] else \
            "would not map: " + "; ".join(check["problems"])
        print(f"Edge TPU check (documented operations): {verdict}", file=sys.stderr)
        return {"compiled": False, "compiler": None, "check": check, "how_to_compile": COMPILE_ELSEWHERE}
    proc = subprocess.run([compiler, "-s", "-o", str(model_path.parent), str(model_path)],
                          capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    parsed = parse_compiler_log(log)
    compiled = model_path.with_name(model_path.stem + "_edgetpu.tflite")
    return {"compiled": proc.returncode == 0 and compiled.exists(), "compiler": compiler,
            "output": str(compiled) if compiled.exists() else None, "returncode": proc.returncode,
            "log": parsed, "check": check}
