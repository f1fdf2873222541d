"""Import data (admin): upload a file, map its columns, dry run with a row-level error report, then commit.

Reading the file and the import are calls into dashboard.io (previews from its readers, the import
through ``imports.run_import``); this page keeps the upload in session state (``io_upload``) and its
preview (``io_preview``: reading every date column of the file once), shows the preview, the mapping
(a column may feed several fields, several columns one field) and each date column's detected format with
a choice to override it, and runs the import twice: a dry run, then — once the user confirms — the same
import with ``commit=True`` (all or nothing). Unknown categories and statuses found by the dry run can be
mapped (``io_categories``, ``io_other_category``, ``io_statuses``) for any kind of file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard.config import get_settings
from dashboard.i18n import label, t, t_plain
from dashboard.io import exports, imports
from dashboard.io.cases import open311_date_columns
from dashboard.io.dates import DATE_FIELDS, DateColumn
from dashboard.io.geojson import preview_features
from dashboard.io.headers import SYNONYMS, template_headers
from dashboard.io.open311_reader import preview_open311
from dashboard.io.report import ImportReport
from dashboard.io.sources import CONVERSIONS, KINDS, SUFFIXES, FileProblem, Source
from dashboard.io.tables import Preview, preview_table
from dashboard.io.uploads import check_upload
from dashboard.io.values import DATE_FORMATS
from dashboard.kernel.errors import DomainError
from dashboard.kernel.policy import may
from dashboard.territory import lookups as territory
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import run_action, show_error
from models.enums import CaseStatus

TABLE_KINDS = ("cases", "volunteers", "service_records")


def _preview(source: Source, kind: str, sha: str) -> Preview | dict[str, DateColumn]:
    """The table preview (or an Open311 file's date columns), read once per file: it reads every date
    column of the whole file."""
    cached = st.session_state.get("io_preview")
    if cached and cached["key"] == (sha, kind):
        return cached["preview"]
    found = preview_table(source, kind) if kind in TABLE_KINDS else open311_date_columns(source)
    st.session_state["io_preview"] = {"key": (sha, kind), "preview": found}
    return found


def _date_choices(found: dict[str, DateColumn], columns: list[str], key: str) -> dict[str, str]:
    """Each date column's detected format with a choice to read it otherwise: column → chosen format."""
    if not columns:
        return {}
    st.markdown(f"**{t('io.dates')}**")
    st.caption(t("io.dates_help"))
    chosen: dict[str, str] = {}
    slots = st.columns(min(len(columns), 3))
    for i, column in enumerate(columns):
        scan = found.get(column)  # None: no date among the first rows, decided by the import itself
        detected = scan.format if scan is not None else ""
        example = next(
            (v for k, v in (scan.examples if scan else {}).items() if k not in ("null", "bad")), ""
        )
        if scan is None:
            auto = t_plain("io.date_auto_unknown")
        elif detected:
            auto = t_plain("io.date_auto", format=t_plain(f"io.date_format.{detected}"))
        else:
            auto = t_plain("io.date_ambiguous")
        pick = slots[i % 3].selectbox(
            plain(column),
            ["", *DATE_FORMATS],
            key=f"io_date_{key}_{column}",
            format_func=lambda f, auto=auto: f"{t_plain(f'io.date_format.{f}')} ({f})" if f else auto,
            help=(t("io.sample") + f": {plain(example)}") if example else None,
        )
        if pick:
            chosen[column] = pick
        elif scan is not None and detected is None:
            slots[i % 3].warning(t("io.date_ambiguous"))
    return chosen


def _value_editor(
    found: dict[str, int], chosen: dict[str, str], options: list[str], key: str, fmt: Callable[[str], str]
) -> dict[str, str]:
    """An editor of the file's unknown values (with their row counts) → the user's choice of `options`;
    the choices made (value → option)."""
    frame = pd.DataFrame(
        {"value": list(found), "count": list(found.values()), "choice": [chosen.get(v, "") for v in found]}
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        width="stretch",
        key=key,
        disabled=["value", "count"],
        column_config={
            "value": st.column_config.TextColumn(t("io.file_value")),
            "count": st.column_config.NumberColumn(t("io.rows")),
            "choice": st.column_config.SelectboxColumn(
                t("io.field_label"), options=["", *options], format_func=fmt
            ),
        },
    )
    return {str(r["value"]): str(r["choice"]) for r in edited.to_dict("records") if r["choice"]}


me = actor()
if not may(me, "data.import"):
    st.error(t("app.forbidden"))
    st.stop()
page_title("io.import_title", t("io.import_caption"))
settings = get_settings()

kind = (
    st.segmented_control(
        t("io.kind_label"), KINDS, default="cases", key="io_kind", format_func=lambda k: t(f"io.kind.{k}")
    )
    or "cases"
)
st.caption(t(f"io.kind_help.{kind}"))

uploaded = st.file_uploader(
    t("io.file_label", types=", ".join(SUFFIXES[kind])),
    type=[s.lstrip(".") for s in SUFFIXES[kind]],
    key=f"io_file_{kind}",
    max_upload_size=settings.max_upload_mb,
)
if uploaded is not None:
    try:
        check_upload(uploaded, SUFFIXES[kind], settings.max_upload_mb)
    except DomainError as e:
        show_error(e)
        st.stop()
    current = st.session_state.get("io_upload")
    fresh = uploaded.file_id != st.session_state.get("io_consumed")  # not the file just imported
    if fresh and (not current or current.get("file_id") != uploaded.file_id):
        data = uploaded.getvalue()
        st.session_state["io_upload"] = {
            "kind": kind,
            "name": uploaded.name,
            "data": data,
            "sha": hashlib.sha256(data).hexdigest(),
            "file_id": uploaded.file_id,
        }
        st.session_state.pop("io_report", None)

upload = st.session_state.get("io_upload")
if kind in TABLE_KINDS:
    template = pd.DataFrame(columns=template_headers(kind, "zh"))
    st.download_button(
        t("io.template"),
        exports.to_csv_bytes(template),
        file_name=f"{kind}_template.csv",
        mime=exports.CSV_MIME,
        icon=":material/download:",
        key="io_template",
    )
if done := st.session_state.pop("io_done", None):
    st.success(t("io.committed", name=done["name"], summary=done["summary"]))
if not upload or upload.get("kind") != kind:
    st.info(t("io.hint"))
    st.stop()

source = Source(upload["name"], data=upload["data"])
st.subheader(t("io.preview", name=upload["name"]))

# ---------------------------------------------------------------- preview and mapping
columns_map: dict[str, list[str]] | None = None
dates: dict[str, str] = {}
try:
    if kind in TABLE_KINDS:
        preview = _preview(source, kind, upload["sha"])
        assert isinstance(preview, Preview)
        st.dataframe(
            pd.DataFrame(preview.rows, columns=preview.headers), hide_index=True, width="stretch", height=260
        )
        st.caption(t("io.header_row", row=preview.header_row))
        st.markdown(f"**{t('io.mapping')}**")
        st.caption(t("io.mapping_help"))
        table = pd.DataFrame(
            {
                "header": preview.headers,
                "sample": [next((r[h] for r in preview.rows if r.get(h)), "") for h in preview.headers],
                "fields": [[f] if (f := preview.suggested.get(h)) else [] for h in preview.headers],
            }
        )
        edited = st.data_editor(
            table,
            hide_index=True,
            width="stretch",
            key=f"io_mapping_{upload['file_id']}",
            disabled=["header", "sample"],
            column_config={
                "header": st.column_config.TextColumn(t("io.file_column")),
                "sample": st.column_config.TextColumn(t("io.sample")),
                "fields": st.column_config.MultiselectColumn(
                    t("io.field_label"),
                    options=list(SYNONYMS[kind]),
                    format_func=lambda f: t_plain(f"io.field.{f}"),
                ),
            },
        )
        columns_map = {
            str(r["header"]): [str(f) for f in r["fields"] or []] for r in edited.to_dict("records")
        }
        date_fields = set(DATE_FIELDS[kind])
        date_columns = [h for h in preview.headers if date_fields.intersection(columns_map.get(h, []))]
        dates = _date_choices(preview.dates, date_columns, upload["file_id"])
    elif kind == "open311":
        st.dataframe(pd.DataFrame(preview_open311(source)), hide_index=True, width="stretch", height=260)
        found = _preview(source, kind, upload["sha"])
        assert isinstance(found, dict)
        dates = _date_choices(found, list(found), upload["file_id"])
    else:
        st.dataframe(pd.DataFrame(preview_features(source)), hide_index=True, width="stretch", height=260)
except FileProblem as e:
    st.error(t(e.key, **e.values))
    st.stop()

# ---------------------------------------------------------------- options
options: dict[str, object] = {}
left, right = st.columns(2)
if kind in ("cases", "open311", "boundaries"):
    convert = left.selectbox(
        t("io.convert"),
        ["", *CONVERSIONS],
        key="io_convert",
        format_func=lambda c: t(f"io.convert_{c or 'none'}"),
    )
    options["convert"] = convert or None
if kind == "boundaries":
    options["level"] = right.radio(
        t("io.level_label"),
        ["grid", "community"],
        horizontal=True,
        key="io_level",
        format_func=lambda v: t(f"io.level_{v}"),
    )
    options["relocate_cases"] = right.checkbox(
        t("io.relocate"), key="io_relocate", help=t("io.relocate_help")
    )
skip = st.checkbox(t("io.skip_bad"), key="io_skip", help=t("io.skip_bad_help"))
categories: dict[str, str] = st.session_state.get("io_categories", {})
statuses: dict[str, str] = st.session_state.get("io_statuses", {})
other_category: str = st.session_state.get("io_other_category", "")
mapping: dict[str, object] = {
    "categories": categories,
    "statuses": statuses,
    "dates": dates,
    "other_category": other_category,
}
if kind in TABLE_KINDS:
    mapping["columns"] = columns_map
signature = upload["sha"] + json.dumps([kind, mapping, options], sort_keys=True, default=str)


def _run(commit: bool) -> ImportReport | None:
    """The import's report: a dry run only reads; the commit is one unit of work (None when refused)."""
    bar = st.progress(0.0, text=t("io.reading"))

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=t("io.progress", rows=message))

    def run(s: Session) -> ImportReport:
        return imports.run_import(
            s, me, kind, source, mapping, commit, skip_bad_rows=skip, progress=progress, **options
        )

    if commit:
        _, report = run_action(run)
    else:
        with db_session() as s:
            report = run(s)
    bar.empty()
    return report


b1, b2 = st.columns(2)
if b1.button(t("io.dry_run"), key="io_dry_run", icon=":material/fact_check:", width="stretch"):
    st.session_state["io_report"] = {"signature": signature, "report": _run(commit=False)}
state = st.session_state.get("io_report")
report: ImportReport | None = state["report"] if state and state["signature"] == signature else None
ready = report is not None and report.can_commit(skip) and (report.new + report.updated) > 0
if b2.button(
    t("io.commit"),
    key="io_commit",
    type="primary",
    icon=":material/upload:",
    width="stretch",
    disabled=not ready,
):
    result = _run(commit=True)
    if result is not None and result.committed:
        st.cache_data.clear()
        st.session_state.pop("io_report", None)
        for chosen_key in ("io_categories", "io_statuses", "io_other_category"):
            st.session_state.pop(chosen_key, None)
        st.session_state["io_done"] = {"name": upload["name"], "summary": result.summary()}
        st.session_state["io_consumed"] = upload.get("file_id")
        st.session_state.pop("io_upload", None)
        st.rerun()
    if result is not None:  # else the refusal is shown and the dry run's report stays
        report = result
        st.session_state["io_report"] = {"signature": signature, "report": result}

# ---------------------------------------------------------------- report
if report is None:
    st.caption(t("io.dry_run_first"))
    st.stop()
st.subheader(t("io.report_title"))
m = st.columns(5)
m[0].metric(t("io.rows"), f"{report.rows:,}", border=True)
m[1].metric(t("io.new"), f"{report.new:,}", border=True)
m[2].metric(t("io.updated"), f"{report.updated:,}", border=True)
m[3].metric(t("io.unchanged"), f"{report.unchanged:,}", border=True)
m[4].metric(t("io.errors"), f"{report.error_rows:,}", border=True)
if report.relocated:
    st.caption(t("io.relocated", n=report.relocated))
if report.file_error is not None:
    st.error(
        plain(report.file_error.reason())  # plain text about the file, which may quote it
        + (f" ({t('io.col.row')} {report.file_error.row})" if report.file_error.row else "")
    )
elif report.error_rows and not skip:
    st.warning(t("io.blocked", n=report.error_rows))
elif report.error_rows:
    st.warning(t("io.will_skip", n=report.error_rows))
elif report.new + report.updated == 0:
    st.info(t("io.nothing_to_do"))
else:
    st.success(t("io.ready"))


if report.unknown_categories:
    st.markdown(f"**{t('io.unknown_categories')}**")
    with db_session() as s:
        cat_df = territory.categories(s)
    codes = cat_df["code"].tolist()
    names = dict(zip(cat_df["code"], cat_df["name_zh"], strict=True))
    picked = _value_editor(
        report.unknown_categories,
        categories,
        codes,
        "io_category_editor",
        lambda c: f"{c} {names.get(c, '')}" if c else t_plain("io.ignore"),
    )
    other = st.selectbox(
        t("io.other_category"),
        ["", *codes],
        index=([""] + codes).index(other_category) if other_category in codes else 0,
        key="io_other_editor",
        help=t("io.other_category_help"),
        format_func=lambda c: f"{c} {names.get(c, '')}" if c else t_plain("io.other_none"),
    )
    if st.button(t("io.apply_categories"), key="io_apply_categories"):
        st.session_state["io_categories"] = {**categories, **picked}
        st.session_state["io_other_category"] = other
        st.rerun()

if report.unknown_statuses:
    st.markdown(f"**{t('io.unknown_statuses')}**")
    picked_statuses = _value_editor(
        report.unknown_statuses,
        statuses,
        [st_.value for st_ in CaseStatus],
        "io_status_editor",
        lambda v: t_plain("io.ignore") if not v else str(label("status", v)),
    )
    if st.button(t("io.apply_statuses"), key="io_apply_statuses"):
        st.session_state["io_statuses"] = {**statuses, **picked_statuses}
        st.rerun()

problems = report.problems_frame()
if not problems.empty:
    st.markdown(f"**{t('io.problems', n=report.problem_count)}**")
    shown = problems.head(500)
    if report.problem_count > len(shown):
        st.caption(t("io.problems_shown", shown=len(shown), n=report.problem_count))
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button(
        t("io.download_errors"),
        report.problems_csv,  # every problem, written when the user clicks
        file_name=f"{upload['name']}.errors.csv",
        mime=exports.CSV_MIME,
        icon=":material/download:",
        key="io_download_errors",
    )
