"""The layout's rules (docs/ARCHITECTURE.md), checked on the source: module sizes, the dependency
direction, no Streamlit in the domain, and one writer of the case timeline."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
DOMAIN = ("kernel", "cases", "volunteers", "territory", "reporting", "io", "admin", "backup", "residents")
LAYER = {"kernel": 0, **dict.fromkeys(DOMAIN[1:], 1), "ui": 2}


def _modules() -> list[Path]:
    return sorted(DASHBOARD.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_module_over_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def test_the_services_folder_is_gone() -> None:
    assert not (DASHBOARD / "services").exists()


def test_no_streamlit_in_the_domain() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules()
        if p.parent.name in DOMAIN and any(m.split(".")[0] == "streamlit" for m in _imports(p))
    ]
    assert offenders == []


def test_dependencies_point_down() -> None:
    """pages → ui → domain packages → kernel: the kernel imports no domain package, no domain package
    imports the UI."""
    wrong = []
    for path in _modules():
        layer = LAYER.get(path.parent.name)
        if layer is None:
            continue
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "dashboard" or len(parts) < 2 or parts[1] not in LAYER:
                continue
            if LAYER[parts[1]] > layer or (layer == 0 and parts[1] != "kernel"):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_one_writer_of_the_case_timeline() -> None:
    """Outside the seed's bulk loader and the migrations, one function inserts into case_events."""
    pattern = re.compile(
        r"CaseEvent\(|insert\(CaseEvent|CaseEvent\.__table__|INSERT INTO case_events|CaseEvent, \["
    )
    places = [
        f"{p.relative_to(ROOT)}:{i}"
        for base in ("dashboard", "pages")
        for p in sorted((ROOT / base).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert len(places) == 1 and places[0].startswith("dashboard/cases/change.py:"), places


def test_every_fragment_checks_the_session() -> None:
    """Fragment reruns skip app.py's login check: pages use dashboard.ui.session.fragment, never
    st.fragment directly."""
    direct = [
        f"{p.relative_to(ROOT)}:{i}"
        for base in ("pages", "dashboard")
        for p in sorted((ROOT / base).rglob("*.py"))
        if p.name != "session.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"(?<!`)\bst\.fragment\b", line)  # code, not ``st.fragment`` in a docstring
    ]
    assert direct == []
