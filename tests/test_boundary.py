"""The architecture's rules: TensorFlow stays in engine/, widgets stay in gui/, and the two
halves share only engine/protocol/, which is numpy and the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_gui_never_imports_tensorflow_or_keras():
    for module, names in _imports("gui").items():
        bad = {n for n in names if n.split(".")[0] in ("tensorflow", "keras")}
        assert not bad, f"{module} imports {bad}"


def test_engine_never_imports_widgets():
    for module, names in _imports("engine").items():
        bad = {n for n in names if "QtWidgets" in n or "QtGui" in n or n.startswith("gui")}
        assert not bad, f"{module} imports {bad}"


def test_the_gui_sees_only_the_engines_protocol():
    for module, names in _imports("gui").items():
        bad = {n for n in names if n.startswith("engine") and not n.startswith("engine.protocol")}
        assert not bad, f"{module} imports {bad}"


def test_the_protocol_imports_only_numpy_the_standard_library_and_itself():
    allowed = {"numpy", *sys.stdlib_module_names}
    for module, names in _imports("engine/protocol").items():
        bad = {
            n for n in names
            if not n.startswith("engine.protocol") and n.split(".")[0] not in allowed
        }  # fmt: skip
        assert not bad, f"{module} imports {bad}"


def test_only_the_worker_touches_qt_in_the_engine():
    users = {m for m, names in _imports("engine").items() if any("PySide6" in n for n in names)}
    assert users == {"engine/worker.py"}


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_the_gui_package_imports_without_tensorflow():
    probe = "import sys, gui.main_window, gui.startup; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
