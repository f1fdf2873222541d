"""Every import by its kind: cases from spreadsheets (CSV, Excel) and Open311 GeoReport v2 (JSON, XML),
volunteers and service records from spreadsheets, grid and community boundaries from GeoJSON — one code
path for the admin page and ``python -m dashboard import``.

Each ``import_*(session, actor, file, mapping, commit=False, …)`` validates every row and returns an
:class:`ImportReport` (new / updated / unchanged / error rows, every problem with its row, column, value
and reason). ``commit=False`` is the dry run; ``commit=True`` writes all or nothing (see
:mod:`dashboard.io.runs`); re-importing a file is idempotent.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dashboard.io.boundaries import import_boundaries
from dashboard.io.cases import import_cases, import_open311
from dashboard.io.runs import ImportReport
from dashboard.io.service_records import import_service_records
from dashboard.io.volunteers import import_volunteers
from dashboard.kernel.scope import Actor

_IMPORTS = {
    "cases": import_cases,
    "open311": import_open311,
    "volunteers": import_volunteers,
    "service_records": import_service_records,
    "boundaries": import_boundaries,
}


def run_import(
    session: Session,
    actor: Actor,
    kind: str,
    file: Any,
    mapping: Any = None,
    commit: bool = False,
    **options: Any,
) -> ImportReport:
    """Dispatch to the import of `kind` (one of :data:`dashboard.io.sources.KINDS`)."""
    if kind not in _IMPORTS:
        raise ValueError(f"unknown import kind {kind!r}")
    return _IMPORTS[kind](session, actor, file, mapping, commit, **options)
