"""The seed's planted episodes (seed/episodes.py) are what the early warning raises on first start:
``alerts run`` then ``alerts list --format json`` on a fresh seed give the ENV spike in the market's grid, a
repeat at the leaking building and the SAF hotspot over the old-town grids.

One SQLite file, seeded here with the default year of cases (at 40 cases a day the market gets only three)
but no service records, visits or photos and few volunteers, to keep the test short; the overdue-risk model
is left out of the run (its training is what makes a run slow, and it has its own tests)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text

from dashboard import cli, clock
from dashboard.db import dispose_engines, get_engine
from dashboard.reporting.warning import risk
from seed import episodes
from seed.generate import seed_database

SEEDED_AT = datetime(2026, 12, 15, 9, 0)
"""The seed and the morning run happen at one fixed moment: the seed draws its cases up to "now", so on the
wall clock the planted hotspot's strength changed with the minute the test ran (CI failed on it twice)."""


def _planted(url: str, titles: tuple[str, ...], category: str) -> list[tuple[str, str]]:
    """(case number, grid code) of the cases an episode moved: they carry its titles and description."""
    query = text(
        "SELECT c.number, g.code FROM cases c JOIN grids g ON g.id = c.grid_id "
        "JOIN categories k ON k.id = c.category_id WHERE k.code = :k AND c.description IN :d"
    ).bindparams(bindparam("d", expanding=True))
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            query, {"k": category, "d": [f"{t}，居民反映，请尽快处理。" for t in titles]}
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_default_seed_raises_its_three_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    with clock.frozen(SEEDED_AT):
        report = seed_database(url, volunteers=20, service_records=0, visits=0, photos=False)
    assert report.counts["cases"] == 36_500
    assert report.counts["episode_market"] >= 6 and report.counts["episode_leaks"] == episodes.LEAK_CASES
    market = _planted(url, episodes.MARKET_TITLES, "ENV")
    leaks = _planted(url, episodes.LEAK_TITLES, "INF")
    hazards = _planted(url, episodes.SAF_TITLES, "SAF")
    assert len({g for _, g in market}) == 1 and len({g for _, g in hazards}) == episodes.SAF_GRIDS

    monkeypatch.setattr(risk, "assess", lambda session, as_of: risk.Assessment())
    with clock.frozen(SEEDED_AT):
        assert cli.main(["alerts", "run", "--database-url", url]) == 0
    capsys.readouterr()
    assert cli.main(["alerts", "list", "--format", "json", "--database-url", url]) == 0
    alerts = json.loads(capsys.readouterr().out)["alerts"]
    dispose_engines()

    def raised(kind: str, category: str, cases: list[tuple[str, str]], share: float) -> list[dict]:
        """Alerts of `kind` and `category` holding at least `share` of the planted cases."""
        numbers = {n for n, _ in cases}
        return [
            a
            for a in alerts
            if a["kind"] == kind
            and a["category_code"] == category
            and len(numbers & set(a["case_numbers"])) >= max(share * len(numbers), 1)
        ]

    (spike,) = [a for a in raised("spike", "ENV", market, 0.0) if a["scope_type"] == "grid"]
    assert spike["scope_code"] == market[0][1] and spike["observed"] >= len(market) / 2
    (repeat,) = [a for a in raised("repeat", "INF", leaks, 1.0) if a["scope_type"] == "building"]
    assert repeat["observed"] >= episodes.LEAK_CASES and repeat["episode"] == "new"
    (spot,) = raised("hotspot", "SAF", hazards, 0.5)
    assert spot["scope_code"] in {g for _, g in hazards}
