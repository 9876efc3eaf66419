"""The layers point one way: the runtime imports nothing above it, training never imports converters.

Read from the source (every import statement, lazy ones inside functions included), not from what
happens to be imported at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package folder -> the installed name of the package
PACKAGES = {"edgesign": "edgesign", "training": "edgesign.training", "converters": "edgesign.converters",
            "firmware_tests": "edgesign.firmware_tests"}
# what each layer may not import
FORBIDDEN = {
    "edgesign": ("edgesign.training", "edgesign.converters"),
    "firmware_tests": ("edgesign.training", "edgesign.converters"),
    "training": ("edgesign.converters",),
}
ALLOWED = {"edgesign/cli.py"}  # the one place where the layers meet


def imports_of(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def modules():
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            yield folder, package, path


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_module_imports_upward(folder):
    bad = []
    for f, package, path in modules():
        rel = f"{f}/{path.name}"
        if f != folder or rel in ALLOWED:
            continue
        for name in imports_of(path, package):
            if name.startswith(FORBIDDEN[folder]):
                bad.append(f"{rel} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    """The test above would catch an upward import inside a function, relative or absolute."""
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from ..converters import convert\n    import edgesign.training.run\n")
    names = imports_of(path, "edgesign.x")
    assert "edgesign.converters.convert" in names and "edgesign.training.run" in names


def test_no_function_is_long():
    """Functions stay under about 60 lines (the CLI's command signatures, one option a line, may reach 70)."""
    long = []
    for folder, _, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.end_lineno - node.body[0].lineno + 1
                if body > 60:
                    long.append(f"{folder}/{path.name}:{node.lineno} {node.name} ({body} lines)")
    assert not long, "\n".join(long)
