"""How good the early-warning detectors are, measured like detectors: recall of planted episodes of known
size, false alarms on untouched history, the overdue-risk model's AUC and calibration, and the run's time.

    python -m bench.detectors [--base data/bench/sqlite-default.db] [--trials 30] [--million]

The base database (the seeded default-size SQLite file of bench/common.py, a year of ≈ 36,500 cases, built
if missing) is copied once and migrated; every episode is then inserted inside a transaction that is rolled
back after the detector has run, so each trial sees the untouched history plus its one episode. The seed
plants its own episodes (seed/episodes.py) in the last ``episodes.REACH_DAYS`` days: every evaluation day
lies before them, so the history each run reads (the years before its day) is untouched.

- **Spikes**: on a random evaluation day, a random community × category whose expected count is at least one
  case a day gets (m − 1) × expected × L extra cases over the L days before the run (m = 2, 3, 5; L = 1, 2, 3),
  either all in one grid ("one grid": a new market) or in random grids of the community ("spread"). Detected:
  a spike alert of that category touching that community which the untouched run of that day did not have.
  Recall is also given by the cell's expected cases a day (1–2, 2–4, ≥ 4): Poisson noise bounds it.
- **Repeats**: 3–6 cases of one category at a new building over the 80 days before the run, the addresses
  written differently (blanks, full-width digits, unit and room). Detected: a building alert naming it.
- **Hotspots**: a cluster of 3–6 adjacent grids (Queen) gets, in each grid, as many extra cases of a category
  over the 30 days before the run as the grid's expected count (a doubling; at least 3). Detected: a hotspot
  alert of that category covering at least half of the cluster.
- **False alarms**: spike, hotspot and repeat alerts of the untouched history over consecutive days, per
  community and 30 days; repeats followed as episodes (dashboard/reporting/warning/episode.py): new,
  updated (new cases) and ongoing ones a day, per rule.
- **Overdue risk**: AUC and calibration by decile on the month held back (risk.assess) as of the last day.
- ``--million``: the whole run (``run.run``) on a copy of data/bench/sqlite-1000000.db, timed per stage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.common import BENCH_DIR, DEFAULT, machine, save_json, sqlite_db
from dashboard.db import get_engine, upgrade
from dashboard.reporting.warning import episode, history, hotspots, repeats, risk, run, spikes
from dashboard.reporting.warning.history import Territory
from models import Case
from models.enums import AlertKind, CaseSource, CaseStatus
from seed import episodes

_seq = iter(range(1, 10**9))


def _copy(src: Path, directory: Path) -> str:
    dst = directory / src.name
    shutil.copyfile(src, dst)
    url = f"sqlite:///{dst}"
    upgrade(url)
    if not inspect(get_engine(url)).has_table("alert_runs"):
        # built while revisions 0006–0009 were still empty placeholders: stamped at head without their tables
        from alembic import command

        from dashboard.db import alembic_config

        with get_engine(url).begin() as connection:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = connection
            command.stamp(cfg, "0005")
        upgrade(url)
    return url


def _last_day(session: Session) -> date:
    last = session.exec(select(Case.reported_at).order_by(Case.reported_at.desc()).limit(1)).one()  # type: ignore[attr-defined]
    return last.date()


def _case(territory: Territory, g: int, k: int, at: datetime, address: str = "") -> Case:
    return Case(
        number=f"BENCH-{next(_seq):07d}",
        category_id=int(territory.category_ids[k]),
        title="bench",
        grid_id=int(territory.grid_ids[g]),
        community_id=int(territory.grid_community[g]),
        address=address,
        source=CaseSource.hotline,
        status=CaseStatus.closed,
        reported_at=at,
    )


def _spread_times(rng: np.random.Generator, day: date, days: int, n: int) -> list[datetime]:
    start = datetime.combine(day - timedelta(days=days), datetime.min.time())
    return [start + timedelta(seconds=int(s)) for s in np.sort(rng.uniform(0, days * 86400, n))]


def _spike_keys(found: list) -> set[tuple[int, int]]:
    return {(f.category_id, c) for f in found if f.kind == AlertKind.spike for c in f.community_ids}


def _spikes(session: Session, territory: Territory, day: date) -> list:
    daily = history.daily_counts(session, territory, end=day, days=spikes.HISTORY_DAYS)
    return spikes.detect(session, territory, daily, day)


def _follow(
    found: list, seen: dict[str, episode.Seen], day: date, states: dict[str, dict[str, int]] | None
) -> None:
    """Follow the day's repeat findings as episodes (as the job does), counting states per rule (None: only
    follow, on the first day, when everything already going on would count as new)."""
    for f in found:
        if f.kind != AlertKind.repeat:
            continue
        step = episode.follow(f, seen.get(f.key), day)
        if states is not None:
            states[str(f.evidence["rule"])][step.state] += 1
        seen[f.key] = episode.Seen(day, step.first_day, frozenset(f.case_ids))


def false_alarms(session: Session, territory: Territory, days: list[date]) -> dict[str, object]:
    """Alerts of each detector on untouched history, per community and 30 days: as alert-days (what each
    morning shows) and as episodes (the same key again within 7 days is the same episode); repeats as the job
    follows them (new / updated / ongoing a day, per rule)."""
    alert_days: dict[str, int] = defaultdict(int)
    episodes_: dict[str, int] = defaultdict(int)
    last_seen: dict[str, date] = {}
    neighbours = hotspots.adjacency(territory)
    by_level: dict[str, int] = defaultdict(int)
    seen: dict[str, episode.Seen] = {}
    states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day in days:
        daily = history.daily_counts(session, territory, end=day, days=hotspots.HISTORY_DAYS)
        repeat = repeats.detect(session, territory, day)
        _follow(repeat, seen, day, states if day != days[0] else None)
        found = [
            *spikes.detect(session, territory, daily, day),
            *hotspots.detect(session, territory, daily, day, neighbours)[0],
            *repeat,
        ]
        for f in found:
            kind = f"repeat_{f.evidence['rule']}" if f.kind == AlertKind.repeat else str(f.kind)
            alert_days[kind] += 1
            if f.kind == AlertKind.spike:
                by_level[str(f.scope_type)] += 1
            key_seen = last_seen.get(f.key)
            if key_seen is None or (day - key_seen).days > 7:
                episodes_[kind] += 1
            last_seen[f.key] = day
    scale = len(territory.community_ids) * len(days) / 30
    per_day = {
        rule: {
            state: round(counts.get(state, 0) / max(len(days) - 1, 1), 2)
            for state in ("new", "updated", "ongoing")
        }
        for rule, counts in states.items()
    }
    return {
        "days": len(days),
        "alert_days_per_community_month": {k: round(v / scale, 3) for k, v in alert_days.items()},
        "episodes_per_community_month": {k: round(v / scale, 3) for k, v in episodes_.items()},
        "spike_alert_days_by_level": dict(by_level),
        "repeats_a_day_in_all": per_day,
        "totals": dict(alert_days),
    }


def spike_recall(
    engine: Engine, territory: Territory, days: list[date], trials: int, rng: np.random.Generator
) -> list[dict[str, object]]:
    rows = []
    baseline: dict[date, set[tuple[int, int]]] = {}
    with Session(engine) as s:
        for day in days:
            baseline[day] = _spike_keys(_spikes(s, territory, day))
    community_of_grid = territory.grid_community
    for placement in ("one grid", "spread"):
        for m in (2, 3, 5):
            for length in (1, 2, 3):
                hits, sizes, rates, hit_list = 0, [], [], []
                for _ in range(trials):
                    day = days[int(rng.integers(len(days)))]
                    with Session(engine) as s:
                        daily = history.daily_counts(s, territory, end=day, days=spikes.HISTORY_DAYS)
                        cells = history.by_community(territory, daily.counts)
                        per_day = cells[:, :, : spikes.BASELINE_DAYS].sum(-1) / spikes.BASELINE_DAYS
                        ci, ki = np.nonzero(per_day >= 1.0)
                        pick = int(rng.integers(len(ci)))
                        c, k = int(ci[pick]), int(ki[pick])
                        grids = np.flatnonzero(community_of_grid == territory.community_ids[c])
                        extra = max(1, int(round((m - 1) * per_day[c, k] * length)))
                        sizes.append(extra)
                        rates.append(float(per_day[c, k]))
                        chosen = (
                            [int(rng.choice(grids))] * extra
                            if placement == "one grid"
                            else list(rng.choice(grids, extra))
                        )
                        s.add_all(
                            _case(territory, g, k, t)
                            for g, t in zip(chosen, _spread_times(rng, day, length, extra), strict=True)
                        )
                        s.flush()
                        found = _spike_keys(_spikes(s, territory, day)) - baseline[day]
                        s.rollback()
                    hit = (int(territory.category_ids[k]), int(territory.community_ids[c])) in found
                    hits += hit
                    hit_list.append(hit)
                by_rate = _by_rate(rates, hit_list)
                rows.append(
                    {
                        "placement": placement,
                        "multiple": m,
                        "days": length,
                        "recall": round(hits / trials, 3),
                        "mean_extra_cases": round(float(np.mean(sizes)), 1),
                        "recall_by_expected_a_day": by_rate,
                    }
                )
                print(
                    f"  spike {placement:8} {m}x {length}d  recall {hits / trials:.2f}  (+{np.mean(sizes):.1f} cases)"
                    f"  by expected a day {by_rate}"
                )
    return rows


RATE_BINS = ((1.0, 2.0), (2.0, 4.0), (4.0, float("inf")))


def _by_rate(rates: list[float], hits: list[bool]) -> dict[str, list[float]]:
    """Recall and trials per bin of the cell's expected cases a day: ``{"1–2": [recall, trials]}``."""
    out = {}
    for lo, hi in RATE_BINS:
        picked = [h for r, h in zip(rates, hits, strict=True) if lo <= r < hi]
        label = f"{lo:g}–{hi:g}" if hi != float("inf") else f"≥{lo:g}"
        if picked:
            out[label] = [round(sum(picked) / len(picked), 2), len(picked)]
    return out


_VARIANTS = ("{b}{u}单元{r}", "{b} {u}单元 {r}", "{w}{u}单元", "{b}", "{b}楼下")


def repeat_recall(
    engine: Engine, territory: Territory, days: list[date], trials: int, rng: np.random.Generator
) -> list[dict[str, object]]:
    rows = []
    for size in (3, 4, 5, 6):
        hits = 0
        for t in range(trials):
            day = days[int(rng.integers(len(days)))]
            g, k = int(rng.integers(len(territory.grid_ids))), int(rng.integers(len(territory.category_ids)))
            n = 900 + t
            building, wide = (
                f"测试小区{n}号楼",
                f"测试小区{str(n).translate(str.maketrans('0123456789', '０１２３４５６７８９'))}号楼",
            )
            with Session(engine) as s:
                cases = []
                for at in _spread_times(rng, day, 80, size):
                    address = _VARIANTS[int(rng.integers(len(_VARIANTS)))].format(
                        b=building,
                        w=wide,
                        u=int(rng.integers(1, 7)),
                        r=f"{int(rng.integers(1, 8))}0{int(rng.integers(1, 5))}",
                    )
                    cases.append(_case(territory, g, k, at, address))
                s.add_all(cases)
                s.flush()
                found = repeats.by_building(s, territory, day)
                s.rollback()
            hits += any(
                f.identity == building and f.category_id == int(territory.category_ids[k]) for f in found
            )
        rows.append({"cases": size, "recall": round(hits / trials, 3)})
        print(f"  repeat building of {size} cases  recall {hits / trials:.2f}")
    return rows


def _cluster(neighbours: dict[int, list[int]], start: int, size: int, rng: np.random.Generator) -> list[int]:
    chosen, frontier = [start], [start]
    while frontier and len(chosen) < size:
        i = frontier.pop(int(rng.integers(len(frontier))))
        for j in rng.permutation(neighbours[i]).tolist():
            if len(chosen) < size and j not in chosen:
                chosen.append(int(j))
                frontier.append(int(j))
    return chosen


def hotspot_recall(
    engine: Engine, territory: Territory, days: list[date], trials: int, rng: np.random.Generator
) -> list[dict[str, object]]:
    neighbours = hotspots.adjacency(territory)
    rows = []
    for size in (3, 4, 5, 6):
        hits, extras = 0, []
        for _ in range(trials):
            day = days[int(rng.integers(len(days)))]
            with Session(engine) as s:
                daily = history.daily_counts(s, territory, end=day, days=hotspots.HISTORY_DAYS)
                window = daily.counts[:, :, -hotspots.WINDOW_DAYS :].sum(-1)
                busy = np.flatnonzero(window.sum(0) >= 60)
                k = int(rng.choice(busy))
                cluster = _cluster(neighbours, int(rng.integers(len(territory.grid_ids))), size, rng)
                base = daily.counts[:, k, : hotspots.BASELINE_DAYS].sum(-1)
                expected = (base + 0.5) / (base.sum() + 0.5 * len(base)) * window[:, k].sum()
                cases = []
                for g in cluster:
                    extra = max(3, int(round(expected[g])))
                    extras.append(extra)
                    cases += [
                        _case(territory, g, k, at)
                        for at in _spread_times(rng, day, hotspots.WINDOW_DAYS, extra)
                    ]
                s.add_all(cases)
                s.flush()
                one = replace(
                    territory,
                    category_ids=territory.category_ids[[k]],
                    category_codes=[territory.category_codes[k]],
                )
                fresh = history.daily_counts(s, one, end=day, days=hotspots.HISTORY_DAYS)
                found, _ = hotspots.detect(s, one, fresh, day, neighbours)
                s.rollback()
            ids = {int(territory.grid_ids[g]) for g in cluster}
            hits += any(len(f.grid_ids & ids) * 2 >= len(ids) for f in found)
        rows.append(
            {
                "grids": size,
                "recall": round(hits / trials, 3),
                "mean_extra_per_grid": round(float(np.mean(extras)), 1),
            }
        )
        print(f"  hotspot of {size} grids  recall {hits / trials:.2f}  (+{np.mean(extras):.1f} cases a grid)")
    return rows


def risk_quality(engine: Engine, day: date) -> dict[str, object]:
    started = time.perf_counter()
    with Session(engine) as s:
        result = risk.assess(s, datetime.combine(day, datetime.min.time()))
    seconds = time.perf_counter() - started
    print(
        f"  overdue risk: AUC {result.auc} on the held-back month, {result.rows} training examples, {seconds:.1f} s"
    )
    print("  decile  n     predicted  observed")
    for row in result.calibration:
        print(f"  {row['decile']:>6}  {row['n']:<5} {row['predicted']:>9.3f}  {row['observed']:>8.3f}")
    return {
        "auc": result.auc,
        "rows": result.rows,
        "scored_open_cases": len(result.scores),
        "calibration": result.calibration,
        "seconds": round(seconds, 1),
    }


def million(directory: Path) -> dict[str, object]:
    src = BENCH_DIR / "sqlite-1000000.db"
    started = time.perf_counter()
    url = _copy(src, directory)
    copied = time.perf_counter() - started
    engine = get_engine(url)
    with Session(engine) as s:
        day = _last_day(s)
    from dashboard import clock

    with clock.frozen(datetime.combine(day, datetime.min.time()) + timedelta(hours=6, minutes=30)):
        outcome = run.run(day, engine=engine)
    print(f"  1M cases: run of {day} in {outcome.duration_s:.1f} s {outcome.timings} counts {outcome.counts}")
    return {
        "day": day,
        "copy_and_migrate_s": round(copied, 1),
        "seconds": outcome.duration_s,
        "timings": outcome.timings,
        "counts": outcome.counts,
        "auc": outcome.auc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.detectors", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", type=Path, default=None, help="default: bench/common.py's default-size file"
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--quiet-days", type=int, default=60, help="consecutive days of untouched history")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--million", action="store_true", help="also time the run on the 1M-case database")
    parser.add_argument("--work", type=Path, default=None, help="where the copies go (default: a temp dir)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="detectors-"))
    work.mkdir(parents=True, exist_ok=True)
    base = args.base or Path(sqlite_db(DEFAULT).url.removeprefix("sqlite:///"))
    url = _copy(base, work)
    engine = get_engine(url)
    with Session(engine) as s:
        territory = history.load_territory(s)
        last = _last_day(s)
    untouched = last - timedelta(days=episodes.REACH_DAYS)  # before the seed's own episodes
    quiet = [untouched - timedelta(days=i) for i in range(args.quiet_days - 1, -1, -1)]
    results: dict[str, object] = {
        "machine": machine(),
        "base": str(base),
        "last_day": last,
        "evaluation_days": [quiet[0], quiet[-1]],
    }
    started = time.perf_counter()
    print(
        f"false alarms on {len(quiet)} days of untouched history ({len(territory.community_ids)} communities)"
    )
    with Session(engine) as s:
        results["false_alarms"] = false_alarms(s, territory, quiet)
    print(" ", json.dumps(results["false_alarms"], ensure_ascii=False))
    print(f"spikes ({args.trials} trials each)")
    results["spikes"] = spike_recall(engine, territory, quiet, args.trials, rng)
    print("repeats")
    results["repeats"] = repeat_recall(engine, territory, quiet, args.trials, rng)
    print("hotspots")
    results["hotspots"] = hotspot_recall(engine, territory, quiet, args.trials, rng)
    print("overdue risk")
    results["risk"] = risk_quality(engine, last)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.million:
        results["million"] = million(work)
    print(f"results: {save_json('detectors', results)}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
