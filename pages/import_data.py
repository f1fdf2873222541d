"""Import data (admin): upload a file, map its columns, dry run with a row-level error report, then commit.

Reading the file and the import are calls into dashboard.io (previews from its readers, the import
through ``imports.run_import``); this page keeps the upload in session state (``io_upload``), shows the
preview and the mapping, and runs the import twice: a dry run, then — once the user confirms — the same
import with ``commit=True`` (all or nothing).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard.config import get_settings
from dashboard.i18n import t
from dashboard.io import exports, imports
from dashboard.io.geojson import preview_features
from dashboard.io.headers import SYNONYMS, template_headers
from dashboard.io.open311_reader import preview_open311
from dashboard.io.runs import ImportReport
from dashboard.io.sources import CONVERSIONS, KINDS, SUFFIXES, FileProblem, Source
from dashboard.io.tables import preview_table
from dashboard.io.uploads import check_upload
from dashboard.kernel.errors import DomainError
from dashboard.kernel.policy import may
from dashboard.territory import lookups as territory
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import run_action, show_error

TABLE_KINDS = ("cases", "volunteers", "service_records")

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
columns_map: dict[str, str] | None = None
try:
    if kind in TABLE_KINDS:
        preview = preview_table(source, kind)
        st.dataframe(
            pd.DataFrame(preview.rows, columns=preview.headers), hide_index=True, width="stretch", height=260
        )
        st.caption(t("io.header_row", row=preview.header_row))
        st.markdown(f"**{t('io.mapping')}**")
        st.caption(t("io.mapping_help"))
        fields = ["", *SYNONYMS[kind]]
        table = pd.DataFrame(
            {
                "header": preview.headers,
                "sample": [next((r[h] for r in preview.rows if r.get(h)), "") for h in preview.headers],
                "field": [preview.suggested.get(h, "") for h in preview.headers],
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
                "field": st.column_config.SelectboxColumn(
                    t("io.field_label"),
                    options=fields,
                    format_func=lambda f: t(f"io.field.{f}") if f else t("io.ignore"),
                ),
            },
        )
        columns_map = {str(r["header"]): str(r["field"] or "") for r in edited.to_dict("records")}
    elif kind == "open311":
        st.dataframe(pd.DataFrame(preview_open311(source)), hide_index=True, width="stretch", height=260)
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
mapping = (
    {"columns": columns_map, "categories": categories} if kind in TABLE_KINDS else {"categories": categories}
)
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
        st.session_state.pop("io_categories", None)
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
    codes = [""] + cat_df["code"].tolist()
    names = dict(zip(cat_df["code"], cat_df["name_zh"], strict=True))
    unknown = pd.DataFrame(
        {
            "value": list(report.unknown_categories),
            "count": list(report.unknown_categories.values()),
            "category": [categories.get(v, "") for v in report.unknown_categories],
        }
    )
    chosen = st.data_editor(
        unknown,
        hide_index=True,
        width="stretch",
        key="io_category_editor",
        disabled=["value", "count"],
        column_config={
            "value": st.column_config.TextColumn(t("io.file_value")),
            "count": st.column_config.NumberColumn(t("io.rows")),
            "category": st.column_config.SelectboxColumn(
                t("io.field.category"),
                options=codes,
                format_func=lambda c: f"{c} {names.get(c, '')}" if c else t("io.ignore"),
            ),
        },
    )
    if st.button(t("io.apply_categories"), key="io_apply_categories"):
        merged = dict(categories)
        merged.update(
            {str(r["value"]): str(r["category"]) for r in chosen.to_dict("records") if r["category"]}
        )
        st.session_state["io_categories"] = merged
        st.rerun()

problems = report.problems_frame()
if not problems.empty:
    st.markdown(f"**{t('io.problems', n=len(problems))}**")
    st.dataframe(problems.head(500), hide_index=True, width="stretch")
    st.download_button(
        t("io.download_errors"),
        report.problems_csv(),
        file_name=f"{upload['name']}.errors.csv",
        mime=exports.CSV_MIME,
        icon=":material/download:",
        key="io_download_errors",
    )
