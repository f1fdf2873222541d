"""Number and percent formatting for pages, the wall, meeting reports and their exports (no Streamlit here).

Rates are fractions (0.912) shown as percentages; a change of a rate is in percentage points, a change of
a count is relative. In text a missing value (None, NaN, pandas NA) shows as "—". The ``*_delta``
variants are for ``st.metric`` deltas instead: None when unknown (no delta shown) and "0" when the change
rounds to nothing, which st.metric shows grey and without an arrow.
"""

from __future__ import annotations

import math

MISSING = "—"


def as_number(value: object) -> float | None:
    """A float from a number or a pandas cell; None for missing, NaN or anything not a number."""
    if value is None:
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def count(value: object) -> str:
    """1234 → '1,234'; missing → '—'."""
    number = as_number(value)
    return MISSING if number is None else f"{int(number):,}"


def pct(value: object, digits: int = 1) -> str:
    """0.9123 → '91.2%'; missing → '—'."""
    number = as_number(value)
    return MISSING if number is None else f"{number * 100:.{digits}f}%"


def points(value: object, unit: str) -> str:
    """A rate change in percentage points, with the language's unit (i18n ``report.points``):
    0.021 → '+2.1个百分点'; missing → '—'."""
    number = as_number(value)
    return MISSING if number is None else f"{number * 100:+.1f}{unit}"


def change(value: object) -> str:
    """A relative change of a count: 0.18 → '+18%'; missing → '—'."""
    number = as_number(value)
    return MISSING if number is None else f"{number * 100:+.0f}%"


def points_delta(value: object, unit: str) -> str | None:
    """A rate change for an st.metric delta: 0.021 → '+2.1个百分点'; '0' when it rounds to no change."""
    number = as_number(value)
    if number is None:
        return None
    return "0" if round(number * 100, 1) == 0 else f"{number * 100:+.1f}{unit}"


def change_delta(value: object) -> str | None:
    """A relative count change for an st.metric delta: 0.18 → '+18%'; '0' when it rounds to no change."""
    number = as_number(value)
    if number is None:
        return None
    return "0" if round(number * 100) == 0 else f"{number * 100:+.0f}%"


def p_phrase(value: object) -> str:
    """A p-value with its relation, for running text: 'p = 0.012', 'p < 0.001'; missing → '—'."""
    number = as_number(value)
    if number is None:
        return MISSING
    return "p < 0.001" if number < 0.001 else f"p = {number:.3f}"


def moment(value: object, fmt: str = "%Y-%m-%d %H:%M", missing: str = MISSING) -> str:
    """A date or time as text for a table cell: 2026-11-08 09:05; `missing` (—, 从未 …) for None, NaT, NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "NaT":
        return missing
    return format(value, fmt)
