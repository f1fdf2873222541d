"""ui/common.selected_rows: a table selection that outlived a shorter list is dropped, never indexed (seen
under load: a handler's selected row was resolved by someone else, and the department queue failed with
IndexError on its next run — bench/LOAD.md)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from dashboard.ui.common import selected_rows


def _event(*rows: int) -> SimpleNamespace:
    return SimpleNamespace(selection=SimpleNamespace(rows=list(rows)))


def test_a_row_past_the_end_of_the_shortened_table_is_dropped() -> None:
    table = pd.DataFrame({"id": [11, 12]})  # there were three rows when the third was selected
    picked = selected_rows(_event(2), len(table))
    assert picked == []
    assert [int(table.iloc[i]["id"]) for i in selected_rows(_event(1, 2), len(table))] == [12]


def test_no_event_or_no_selection_is_nothing() -> None:
    assert selected_rows(None, 5) == []
    assert selected_rows(SimpleNamespace(selection=None), 5) == []
    assert selected_rows(_event(0), 5) == [0]
