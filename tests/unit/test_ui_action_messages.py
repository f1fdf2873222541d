"""Issue 19: every case action confirms in its own words ("XL…：已处置完毕"), never its button label with
完成 glued on ("处置完毕完成", "核查通过完成"), for one case and for many."""

from __future__ import annotations

import pytest

from dashboard.i18n import has, t_plain
from dashboard.ui.cases import ACTION_FIELDS, done_message


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_action_has_its_own_confirmation(lang: str) -> None:
    missing = [a for a in ACTION_FIELDS if not has(f"actions_done.{a}", lang)]
    assert not missing, missing
    for action in ACTION_FIELDS:
        one = done_message(action, lang, number="XL20261108-0001").replace("\\", "")  # Markdown escapes
        many = done_message(action, lang, count=3)
        assert one.startswith("XL20261108-0001") and "3" in many
        assert not one.endswith(t_plain(f"actions.{action}", lang) + "完成"), one


def test_the_words_read_as_chinese() -> None:
    assert done_message("resolve", "zh", number="XL1") == "XL1：已处置完毕"
    assert done_message("verify", "zh", number="XL1") == "XL1：核查通过"
    assert done_message("accept", "zh", count=3) == "3 件案件已受理"
