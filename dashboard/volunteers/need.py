"""Need rules, the need and supply of volunteers per grid and skill, and coverage of need (DESIGN §7).

- **Need** per grid and skill = ``max(minimum, ceil(basis / per))`` (``per == 0``: the minimum only).
  ``basis`` is the sum of the named population fields of the grid, or for ``cases:CODE`` the number of that
  category's cases (not rejected, not merged duplicates) reported in the grid in the last ``window_days``.
  Several active rules for the same skill: the largest need wins (each rule is a lower bound).
- **Supply** per grid and skill = active volunteers (:func:`common.active_condition`) with that skill whose
  home grid is the grid.
- **Coverage** of a cell = supply / need (None without need); totals cap each cell at its need:
  ``sum(min(supply, need)) / sum(need)``. **Gap** = need − supply when positive.

Need is a property of the grid, so the case counts behind it are limited by the grid scope
(`grid_filter`), not by `case_filter`: every role sees the same need for the same grid.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, not_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.i18n import LANGS, t_plain
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, Problem
from dashboard.kernel.scope import Actor, grid_filter
from dashboard.reporting.kpi import not_duplicate
from dashboard.volunteers.common import (
    _require,
    _skill_order,
    active_condition,
)
from models import Case, Category, Community, Grid, NeedRule, Volunteer, VolunteerSkill
from models.enums import POPULATION_FIELDS, SKILLS, CaseStatus

BASIS_FIELDS: tuple[str, ...] = ("households", "residents", *POPULATION_FIELDS)
"""Grid columns a need rule may name in its basis."""
CASES_PREFIX = "cases:"


# ---------------------------------------------------------------- need rules


@dataclass(frozen=True)
class Basis:
    """A parsed rule basis: population fields to add up, or a case category code."""

    fields: tuple[str, ...] = ()
    category: str | None = None


def parse_basis(text: str) -> Basis:
    """``elderly_alone+elderly_solitary`` → fields; ``cases:DIS`` → category. Raises Invalid."""
    text = (text or "").strip()
    if text.lower().startswith(CASES_PREFIX):
        code = text[len(CASES_PREFIX) :].strip().upper()
        if not re.fullmatch(r"[A-Z0-9_]{1,8}", code):
            raise Invalid("vol.err.basis", basis=text)
        return Basis(category=code)
    parts = [p.strip() for p in text.split("+")]
    if not text or any(p not in BASIS_FIELDS for p in parts):
        raise Invalid("vol.err.basis", basis=text)
    if len(set(parts)) != len(parts):
        raise Invalid("vol.err.basis", basis=text)
    return Basis(fields=tuple(parts))


def basis_label(text: str, categories: Mapping[str, Sequence[str]], lang: str | None = None) -> str:
    """A stored basis as its reader reads it: ``elderly_alone+elderly_solitary`` → 空巢/独居老人+孤寡老人,
    ``cases:DIS`` → 案件：矛盾纠纷 (`categories`: code → (Chinese name, English name)). Text that does not
    parse is shown as it is."""
    try:
        basis = parse_basis(text)
    except Invalid:
        return text
    if basis.category:
        names = categories.get(basis.category)
        name = (names[1] if lang == "en" and names[1] else names[0]) if names else basis.category
        return t_plain("vol.basis_cases", lang, name=name)
    return "+".join(t_plain(f"enum.population.{f}", lang) for f in basis.fields)


def basis_code(text: str, categories: Mapping[str, Sequence[str]]) -> str:
    """A basis typed by its names in either language, or in its stored form, as stored (``cases:DIS``,
    ``elderly_alone+elderly_solitary``). Text naming nothing known comes back as it is, for validation."""
    typed = (text or "").strip()
    text = typed.replace("＋", "+").replace("：", ":")
    for lang in LANGS:
        prefix = t_plain("vol.basis_cases", lang, name="").replace("：", ":").strip()
        if text.lower().startswith(prefix.lower()):
            name = text[len(prefix) :].strip()
            code = next((c for c, names in categories.items() if name in names or name.upper() == c), None)
            return f"{CASES_PREFIX}{code}" if code else typed
    fields = {t_plain(f"enum.population.{f}", lang): f for f in BASIS_FIELDS for lang in LANGS}
    parts = [p.strip() for p in text.split("+")]
    named = [p if p in BASIS_FIELDS else fields.get(p) for p in parts]
    return "+".join(named) if all(named) else typed  # type: ignore[arg-type]


RULE_COLUMNS = ["id", "skill", "basis", "per", "minimum", "window_days", "active", "note"]


def need_rules(session: Session, *, active_only: bool = False) -> pd.DataFrame:
    """The need rules, by skill order then basis. Columns: :data:`RULE_COLUMNS` + updated_at."""
    stmt = select(NeedRule)
    if active_only:
        stmt = stmt.where(NeedRule.active.is_(True))
    rows = [r.model_dump() for r in session.exec(stmt).scalars().all()]
    df = pd.DataFrame(rows, columns=[*RULE_COLUMNS, "updated_at", "updated_by"])
    if df.empty:
        return df
    df["_o"] = df["skill"].map(_skill_order)
    return df.sort_values(["_o", "basis"]).drop(columns="_o").reset_index(drop=True)


def validate_need_rules(rows: Sequence[dict[str, Any]], category_codes: Sequence[str]) -> list[Problem]:
    """Check edited rules: known skill, parseable basis (known category), per ≥ 0, minimum a whole number
    ≥ 0, window 1–3650 days, (skill, basis) unique, and a rule that can ever need someone."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    codes = set(category_codes)
    for i, row in enumerate(rows):
        skill = row.get("skill")
        basis_text = str(row.get("basis") or "").strip()
        if skill not in SKILLS:
            problems.append(Problem("vol.err.skill", {"skill": skill or ""}, i))
        try:
            basis = parse_basis(basis_text)
            if basis.category is not None and basis.category not in codes:
                problems.append(Problem("vol.err.basis_category", {"code": basis.category}, i))
        except Invalid:
            problems.append(Problem("vol.err.basis", {"basis": basis_text}, i))
        per = _number(row.get("per"))
        if per is None or per < 0:
            problems.append(Problem("vol.err.per", {}, i))
        minimum = _number(row.get("minimum"))
        if minimum is None or minimum < 0 or minimum != int(minimum):
            problems.append(Problem("vol.err.minimum", {}, i))
        window = _number(row.get("window_days"))
        if window is None or not (1 <= window <= 3650) or window != int(window):
            problems.append(Problem("vol.err.window", {}, i))
        if per == 0 and minimum == 0:
            problems.append(Problem("vol.err.rule_empty", {}, i))
        key = (str(skill), basis_text.replace(" ", ""))
        if key in seen:
            problems.append(Problem("vol.err.rule_duplicate", {"skill": skill, "basis": basis_text}, i))
        seen[key] = i
    return problems


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RuleChanges:
    added: int
    updated: int
    removed: int


def save_need_rules(
    session: Session, actor: Actor, rows: Sequence[dict[str, Any]], now: datetime | None = None
) -> RuleChanges:
    """Replace the rule table with `rows` (the edited table): rows with a known id update, rows without one
    are added, stored rules missing from `rows` are deleted. Validated (Invalid), audited."""
    _require(actor, "volunteer.edit_rules")
    now = now or clock.now()
    codes = list(session.exec(select(Category.code)).scalars().all())
    problems = validate_need_rules(rows, codes)
    if problems:
        raise Invalid(details=problems)
    existing = {r.id: r for r in session.exec(select(NeedRule)).scalars().all()}
    kept: set[int] = set()
    added = updated = 0
    changes: list[dict[str, Any]] = []
    # Delete first so that a rule re-created under the same (skill, basis) does not hit the unique key.
    wanted_ids = {int(r["id"]) for r in rows if _number(r.get("id")) is not None and int(r["id"]) in existing}
    removed = [rid for rid in existing if rid not in wanted_ids]
    for rid in removed:
        rule = existing[rid]
        changes.append({"op": "delete", "id": rid, "skill": rule.skill, "basis": rule.basis})
        session.delete(rule)
    session.flush()
    for row in rows:
        values = {
            "skill": row["skill"],
            "basis": _canonical_basis(str(row["basis"])),
            "per": float(row["per"]),
            "minimum": int(float(row["minimum"])),
            "window_days": int(float(row["window_days"])),
            "active": bool(row.get("active", True)) if row.get("active") is not None else True,
            "note": str(row.get("note") or "")[:500],
        }
        rid = int(row["id"]) if _number(row.get("id")) is not None else None
        if rid is not None and rid in existing:
            kept.add(rid)
            rule = existing[rid]
            before = {k: getattr(rule, k) for k in values}
            if before != values:
                for k, v in values.items():
                    setattr(rule, k, v)
                rule.updated_at = now
                rule.updated_by = actor.id
                updated += 1
                changes.append({"op": "update", "id": rid, "before": before, "after": values})
        else:
            session.add(NeedRule(**values, updated_at=now, updated_by=actor.id))
            added += 1
            changes.append({"op": "add", **values})
    session.flush()
    result = RuleChanges(added, updated, len(removed))
    if added or updated or removed:
        audit.record(
            session,
            actor,
            "need_rules_change",
            target="need_rules",
            detail=json.dumps(changes, ensure_ascii=False, default=str)[:20000],
        )
    return result


def _canonical_basis(text: str) -> str:
    basis = parse_basis(text)
    return f"{CASES_PREFIX}{basis.category}" if basis.category else "+".join(basis.fields)


# ---------------------------------------------------------------- need, supply, coverage


def _grids_in_scope(session: Session, actor: Actor) -> pd.DataFrame:
    cols = [getattr(Grid, f) for f in BASIS_FIELDS]
    stmt = (
        select(Grid.id, Grid.code, Grid.name, Grid.community_id, Community.name, *cols)
        .join(Community, Community.id == Grid.community_id)
        .where(grid_filter(actor))
        .order_by(Grid.code)
    )
    return pd.DataFrame(
        session.exec(stmt).all(),
        columns=["grid_id", "code", "name", "community_id", "community", *BASIS_FIELDS],
    )


def _case_counts(
    session: Session, actor: Actor, pairs: set[tuple[str, int]], now: datetime
) -> dict[tuple[str, int], pd.Series]:
    """Cases per grid (in scope) for each (category code, window days): not rejected, not merged duplicates,
    reported in the window up to now. One scan of the longest window on (category_id, reported_at)."""
    empty = pd.Series(dtype="int64")
    out: dict[tuple[str, int], pd.Series] = dict.fromkeys(pairs, empty)
    codes = sorted({code for code, _ in pairs})
    ids = dict(session.exec(select(Category.code, Category.id).where(Category.code.in_(codes))).all())
    known = sorted((code, days) for code, days in pairs if code in ids)
    if not known:
        return out
    counts = [
        func.sum(
            case(
                (and_(Case.category_id == ids[code], Case.reported_at >= now - timedelta(days=days)), 1),
                else_=0,
            )
        )
        for code, days in known
    ]
    stmt = (
        select(Case.grid_id, *counts)
        .join(Grid, Grid.id == Case.grid_id)
        .where(
            Case.category_id.in_(sorted({ids[code] for code, _ in known})),
            Case.reported_at >= now - timedelta(days=max(days for _, days in known)),
            Case.reported_at <= now,
            not_duplicate(),
            Case.status != CaseStatus.rejected,
            grid_filter(actor),
        )
        .group_by(Case.grid_id)
    )
    rows = session.exec(stmt).all()
    for n, pair in enumerate(known, start=1):
        out[pair] = pd.Series({row[0]: int(row[n] or 0) for row in rows}, dtype="int64")
    return out


def need_by_grid_skill(
    session: Session, actor: Actor, now: datetime | None = None, grids: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Need per grid in scope and skill of every active rule. Columns: grid_id, skill, need, basis_value, rule.

    `rule` and `basis_value` are those of the rule giving the largest need for the skill.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor) if grids is None else grids
    rules = need_rules(session, active_only=True)
    frames: list[pd.DataFrame] = []
    parsed = [(rule, parse_basis(rule.basis)) for rule in rules.itertuples()]
    case_counts = _case_counts(
        session, actor, {(b.category, int(r.window_days)) for r, b in parsed if b.category}, now
    )
    for rule, basis in parsed:
        if basis.category:
            key = (basis.category, int(rule.window_days))
            value = grids["grid_id"].map(case_counts[key]).fillna(0).astype("int64")
        else:
            value = grids[list(basis.fields)].fillna(0).sum(axis=1).astype("int64")
        per = float(rule.per)
        if per > 0:
            need = np.maximum(
                int(rule.minimum), np.ceil(value.to_numpy(dtype=float) / per - 1e-9).astype("int64")
            )
        else:
            need = np.full(len(grids), int(rule.minimum), dtype="int64")
        frames.append(
            pd.DataFrame(
                {
                    "grid_id": grids["grid_id"].to_numpy(),
                    "skill": rule.skill,
                    "need": need,
                    "basis_value": value.to_numpy(),
                    "rule": rule.basis,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["grid_id", "skill", "need", "basis_value", "rule"]).astype(
            {"grid_id": "int64", "need": "int64", "basis_value": "int64"}
        )
    df = pd.concat(frames, ignore_index=True).sort_values(
        ["grid_id", "skill", "need"], ascending=[True, True, False]
    )
    return df.drop_duplicates(["grid_id", "skill"]).reset_index(drop=True)


def supply_by_grid_skill(session: Session, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Active volunteers per home grid (in scope) and skill, plus dormant ones (flag on, no recent service).

    Columns: grid_id, skill, supply, dormant. One GROUP BY query.
    """
    now = now or clock.now()
    act = active_condition(now)
    stmt = (
        select(
            Volunteer.home_grid_id,
            VolunteerSkill.skill,
            func.sum(case((act, 1), else_=0)),
            func.sum(case((and_(Volunteer.active.is_(True), not_(act)), 1), else_=0)),
        )
        .join(VolunteerSkill, VolunteerSkill.volunteer_id == Volunteer.id)
        .join(Grid, Grid.id == Volunteer.home_grid_id)
        .where(grid_filter(actor))
        .group_by(Volunteer.home_grid_id, VolunteerSkill.skill)
    )
    df = pd.DataFrame(session.exec(stmt).all(), columns=["grid_id", "skill", "supply", "dormant"])
    return df.astype({"grid_id": "int64", "supply": "int64", "dormant": "int64"})


def coverage_matrix(session: Session, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Grid × skill cells for the skills that have an active rule, every grid in scope.

    Columns: grid_id, code, name, community_id, community, skill, need, supply, dormant, gap, covered
    (min(supply, need)), coverage (supply / need, uncapped; NaN without need), basis_value, rule.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor)
    need = need_by_grid_skill(session, actor, now, grids)
    supply = supply_by_grid_skill(session, actor, now)
    df = need.merge(supply, on=["grid_id", "skill"], how="left")
    df[["supply", "dormant"]] = df[["supply", "dormant"]].fillna(0).astype("int64")
    df = df.merge(grids[["grid_id", "code", "name", "community_id", "community"]], on="grid_id", how="left")
    df["gap"] = (df["need"] - df["supply"]).clip(lower=0).astype("int64")
    df["covered"] = np.minimum(df["supply"], df["need"]).astype("int64")
    df["coverage"] = (df["supply"] / df["need"].where(df["need"] > 0)).astype("float64")
    cols = [
        "grid_id",
        "code",
        "name",
        "community_id",
        "community",
        "skill",
        "need",
        "supply",
        "dormant",
        "gap",
        "covered",
        "coverage",
        "basis_value",
        "rule",
    ]
    df["_o"] = df["skill"].map(_skill_order)
    return df.sort_values(["code", "_o"])[cols].reset_index(drop=True)


def _totals(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    out = df.groupby(by, sort=False, dropna=False).agg(
        need=("need", "sum"), supply=("supply", "sum"), covered=("covered", "sum"), gap=("gap", "sum")
    )
    out = out.astype("int64")
    out["coverage"] = (out["covered"] / out["need"].where(out["need"] > 0)).clip(upper=1.0).astype("float64")
    return out.reset_index()


def coverage_by_grid(
    session: Session, actor: Actor, now: datetime | None = None, cells: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per grid in scope: grid_id, need, supply, coverage — the figure the map shows.

    need and supply are summed over the skills with a rule; coverage = sum(min(supply, need)) / sum(need)
    per skill, at most 1.0; NaN (``pd.isna``) when the grid has no need. `cells`: the
    :func:`coverage_matrix` of the same actor and time, when the caller already has it.
    """
    now = now or clock.now()
    grids = _grids_in_scope(session, actor)
    cells = coverage_matrix(session, actor, now) if cells is None else cells
    if cells.empty:
        out = pd.DataFrame({"grid_id": grids["grid_id"].astype("int64"), "need": 0, "supply": 0})
        out["coverage"] = np.nan
        return out.astype({"need": "int64", "supply": "int64", "coverage": "float64"})
    totals = _totals(cells, ["grid_id"]).set_index("grid_id")
    out = grids[["grid_id"]].join(totals, on="grid_id")
    out[["need", "supply"]] = out[["need", "supply"]].fillna(0).astype("int64")
    return out[["grid_id", "need", "supply", "coverage"]].reset_index(drop=True)


def grid_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Per grid of the cells, lowest coverage first: grid_id, code, name, community_id, community, need,
    supply, covered, gap, coverage (capped, NaN without need)."""
    cols = [
        "grid_id",
        "code",
        "name",
        "community_id",
        "community",
        "need",
        "supply",
        "covered",
        "gap",
        "coverage",
    ]
    if cells.empty:
        return pd.DataFrame(columns=cols)
    out = _totals(cells, ["grid_id", "code", "name", "community_id", "community"])
    return out.sort_values(["coverage", "code"], na_position="last")[cols].reset_index(drop=True)


def coverage_by_community(
    session: Session, actor: Actor, now: datetime | None = None, cells: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per community in scope: community_id, community, grids, need, supply, covered, gap, coverage,
    grids_full (grids with every need met)."""
    cells = coverage_matrix(session, actor, now) if cells is None else cells
    cols = [
        "community_id",
        "community",
        "grids",
        "need",
        "supply",
        "covered",
        "gap",
        "coverage",
        "grids_full",
    ]
    if cells.empty:
        return pd.DataFrame(columns=cols)
    out = _totals(cells, ["community_id", "community"])
    per_grid = _totals(cells, ["community_id", "grid_id"])
    out = out.merge(
        per_grid.groupby("community_id")
        .agg(grids=("grid_id", "nunique"), grids_full=("gap", lambda g: int((g == 0).sum())))
        .reset_index(),
        on="community_id",
    )
    return out[cols]


def coverage_by_skill(cells: pd.DataFrame) -> pd.DataFrame:
    """Totals per skill over the given cells: skill, need, supply, covered, gap, coverage."""
    if cells.empty:
        return pd.DataFrame(columns=["skill", "need", "supply", "covered", "gap", "coverage"])
    out = _totals(cells, ["skill"])
    out["_o"] = out["skill"].map(_skill_order)
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def heatmap_rows(cells: pd.DataFrame, community_id: int | None = None) -> pd.DataFrame:
    """The coverage heatmap's cells: community × skill over all `cells`, or grid × skill of one community.

    Columns: row_id (community or grid id), row (its label: community name, or grid code and name), skill,
    need, supply, covered, gap, coverage (capped at 1.0, NaN without need); rows in code order, skills in
    the skill order.
    """
    if community_id is None:
        part, key, label = cells, "community_id", "community"
    else:
        part = cells[cells["community_id"] == community_id]
        part = part.assign(label=part["code"] + " " + part["name"])
        key, label = "grid_id", "label"
    part = part.sort_values("code")
    order = {k: i for i, k in enumerate(dict.fromkeys(part[key]))}
    out = _totals(part, [key, label, "skill"])
    out = out.assign(_r=out[key].map(order), _o=out["skill"].map(_skill_order)).sort_values(["_r", "_o"])
    out = out.rename(columns={key: "row_id", label: "row"})
    return out[["row_id", "row", "skill", "need", "supply", "covered", "gap", "coverage"]].reset_index(
        drop=True
    )


def gap_list(cells: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Cells with a gap, biggest gap first, then lowest coverage, then grid code: where to recruit, which skill.

    ``dormant`` is how many registered volunteers with the skill in the grid could be re-engaged first.
    """
    gaps = cells[cells["gap"] > 0].copy()
    gaps["_cov"] = gaps["coverage"].fillna(0)
    gaps = gaps.sort_values(["gap", "_cov", "code", "skill"], ascending=[False, True, True, True])
    gaps = gaps.drop(columns="_cov").reset_index(drop=True)
    return gaps.head(limit) if limit else gaps
