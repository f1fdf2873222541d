"""The date field's calendar in the UI language.

Streamlit 1.67's ``st.date_input`` opens a calendar (react-aria) that names its month and weekdays in the
browser's language (``navigator.language``), and no option of the widget changes that; a Chinese
interface on an English browser showed "November 2026" and "S M T W T F S". So the page carries a small
script (once per browser tab, kept up to date with the language each run) that watches for the calendar
and writes its heading and weekday letters from the catalogue (``app.calendar_*``):

- the heading and the month picker's button and list: the text the calendar formats from a year and a
  month (``Intl.DateTimeFormat`` in the browser's language, month long or short, with or without the
  year; or an English month name) becomes ``2026年11月`` or ``11月``;
- the weekday letters: the column of the month's first day (the day "1" in the first week row) and that
  day's weekday give each column's weekday, whatever day the browser's week starts on;
- a date range's quick select ("Date range", "Past Week" …): Streamlit's English words, by the catalogue.

The text nodes are changed in place, so React still updates them when the user turns the month (and the
script writes them again). A text that is not recognised is left as it is.
"""

from __future__ import annotations

import json

from dashboard.i18n import t_plain

_SCRIPT = """
(() => {
  window.__ownCalendarWords = %s;
  if (window.__ownCalendar) { window.__ownCalendar(); return; }
  const locale = navigator.language || "en-US";
  const english = Array.from({length: 12}, (_, m) =>
    new Intl.DateTimeFormat("en-US", {month: "long"}).format(new Date(2026, m, 15)).toLowerCase());
  const formats = [{month: "long", year: "numeric"}, {month: "short", year: "numeric"}, {month: "long"},
    {month: "short"}];
  const seen = new WeakMap();  // a heading's text node -> [year, month] of the text React wrote

  function readMonth(text) {
    const found = text.match(/\\d{4}/);
    const year = found ? Number(found[0]) : null;
    for (let m = 0; m < 12; m++) {
      const day = new Date(year || 2026, m, 15);
      for (const options of formats) {
        if (!year && options.year) continue;
        if (new Intl.DateTimeFormat(locale, options).format(day) === text) return [year, m];
      }
    }
    const word = (text.match(/[A-Za-z]+/) || [""])[0].toLowerCase();
    const m = word.length >= 3 ? english.findIndex((name) => name.startsWith(word)) : -1;
    return m >= 0 ? [year, m] : null;
  }

  function heading(node, words) {
    const text = node.nodeValue.trim();
    let month = readMonth(text);
    const known = seen.get(node);
    if (!month && known && text === written(known, words)) month = known;
    if (!month) return null;
    seen.set(node, month);
    const shown = written(month, words);
    if (node.nodeValue !== shown) node.nodeValue = shown;
    return month;
  }

  function written([year, month], words) {
    const name = words.months[month];
    return year === null ? name : words.heading.replace("{year}", year).replace("{month}", name);
  }

  function weekdays(calendar, [year, month], words) {
    if (year === null) return;
    for (const grid of calendar.querySelectorAll("table")) {
      const heads = grid.querySelectorAll("thead th");
      const first = grid.tBodies.length ? grid.tBodies[0].rows[0] : null;
      if (heads.length !== 7 || !first) continue;
      const column = Array.from(first.cells).findIndex((cell) => cell.textContent.trim() === "1");
      if (column < 0) continue;
      const weekday = new Date(year, month, 1).getDay();
      heads.forEach((head, j) => setText(head, words.weekdays[(weekday - column + j + 7) %% 7]));
    }
  }

  function setText(element, text) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.nodeValue.trim()) continue;
      if (node.nodeValue !== text) node.nodeValue = text;
      return;
    }
  }

  function quickSelect(words) {
    const boxes = '[data-testid="stDateInputQuickSelect"], [data-testid="stDateInputQuickSelectPopover"]';
    for (const box of document.querySelectorAll(boxes)) {
      const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const shown = words.texts[node.nodeValue.trim()];
        if (shown && node.nodeValue !== shown) node.nodeValue = shown;
      }
    }
  }

  function translate() {
    const words = window.__ownCalendarWords;
    quickSelect(words);
    for (const picker of document.querySelectorAll('[data-testid="stDateInputHeaderPickerPopover"]')) {
      const walker = document.createTreeWalker(picker, NodeFilter.SHOW_TEXT);  // the list of months
      for (let node = walker.nextNode(); node; node = walker.nextNode()) heading(node, words);
    }
    for (const calendar of document.querySelectorAll('[data-testid="stDateInputCalendar"]')) {
      const walker = document.createTreeWalker(calendar, NodeFilter.SHOW_TEXT);
      let month = null;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement && node.parentElement.closest("table")) continue;
        month = heading(node, words) || month;
      }
      if (month) weekdays(calendar, month, words);
    }
  }

  let queued = false;
  window.__ownCalendar = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; translate(); });
  };
  new MutationObserver(window.__ownCalendar).observe(document.body,
    {childList: true, subtree: true, characterData: true});
  window.__ownCalendar();
})();
"""


QUICK_SELECT = {
    "Date range": "date_range",
    "Select...": "select",
    "Past Week": "past_week",
    "Past Month": "past_month",
    "Past 3 Months": "past_3_months",
    "Past 6 Months": "past_6_months",
    "Past Year": "past_year",
    "Past 2 Years": "past_2_years",
}
"""Streamlit's words in a date range's quick select (shown when the range may start over two years ago),
and the catalogue key (``app.calendar_quick.*``) of each."""


def calendar_words(lang: str | None = None) -> dict[str, object]:
    """The calendar's words in `lang`: twelve month names, the heading's pattern, weekday letters from
    Sunday, and the quick select's words by Streamlit's English."""
    return {
        "months": t_plain("app.calendar_months", lang).split(","),
        "heading": t_plain("app.calendar_heading", lang, year="{year}", month="{month}"),
        "weekdays": t_plain("app.calendar_weekdays", lang).split(","),
        "texts": {text: t_plain(f"app.calendar_quick.{key}", lang) for text, key in QUICK_SELECT.items()},
    }


def calendar_script(lang: str | None = None) -> str:
    """The script that writes the calendar in `lang` (for ``st.html(..., unsafe_allow_javascript=True)``);
    the words are JSON with ``<`` escaped, so no text of the catalogue can close the script element."""
    words = json.dumps(calendar_words(lang), ensure_ascii=False).replace("<", "\\u003c")
    return "<script>" + _SCRIPT % words + "</script>"
