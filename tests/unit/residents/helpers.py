"""Shared steps of the residents tests: a building to report at, a report form, and staff closing a case
through the domain functions."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, select

from dashboard.cases import commands as cases
from dashboard.residents.report import PublicForm
from models import Building, Case
from tests.factories import World, centre


def add_building(s: Session, w: World, grid: int = 0, name: str = "幸福路8号3号楼") -> int:
    lon, lat = centre(grid)
    building = Building(grid_id=w.grid_ids[grid], name=name, households=40, lon=lon, lat=lat)
    s.add(building)
    s.commit()
    return building.id  # type: ignore[return-value]


def form(w: World, building_id: int | None, **changes: object) -> PublicForm:
    base = PublicForm(
        topic="litter",
        description="楼下垃圾桶满了三天没人清运，气味很大",
        grid_id=w.grid_ids[0],
        building_id=building_id,
        address="2单元门口",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def close_by_staff(s: Session, w: World, case_id: int, *, follow_up: str | None = None) -> Case:
    """受理 → 派遣 → 处置 → 核查 → (回访) → 结案, each by the role that does it."""
    op, grid = w.actors["operator"], w.actors["grid"]
    version = s.exec(select(Case.version).where(Case.id == case_id)).one()  # 2 after a 附议
    ref = cases.accept(s, op, case_id, version)
    ref = cases.dispatch(s, op, ref.id, ref.version, assignee_id=grid.id)
    ref = cases.start(s, grid, ref.id, ref.version)
    ref = cases.resolve(s, grid, ref.id, ref.version, "已清运，垃圾桶已清洗")
    ref = cases.verify(s, op, ref.id, ref.version)
    if follow_up:
        ref = cases.follow_up(s, op, ref.id, ref.version, follow_up)
    cases.close(s, op, ref.id, ref.version)
    s.commit()
    case = s.get(Case, case_id)
    assert case is not None
    s.refresh(case)
    return case
