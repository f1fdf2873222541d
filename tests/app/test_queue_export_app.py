"""The queue page offers its export as CSV and Excel (issue 19): one format control, both buttons follow it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dashboard.i18n import t_plain
from models.enums import CaseStatus
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)


def test_the_queue_exports_csv_or_excel(world: World, login: Callable) -> None:
    with world.session() as s:
        put_case(s, world, CaseStatus.accepted, number="XL20260309-0001")
    at = login(world.url, "operator", "pages/queue.py")
    assert not at.exception, [e.value for e in at.exception]
    control = at.segmented_control(key="queue_export_format")
    assert control.value == "csv" and list(control.options) == ["CSV", "Excel"]
    csv_label = t_plain("queue.export_filtered", count=1, format="CSV")
    assert csv_label in str(at.get("download_button"))
    control.set_value("xlsx").run()
    assert not at.exception
    assert t_plain("queue.export_filtered", count=1, format="Excel") in str(at.get("download_button"))
