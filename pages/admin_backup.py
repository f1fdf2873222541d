"""数据备份 (admin): the latest backup's time and size from the manifests in the backup folder, a warning
when none is younger than the configured interval, the recent backups, the commands, and the retention
of personal data. Backups themselves run on the server (``python -m dashboard backup``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin.settings import cached_setting
from dashboard.cases.retention import last_run
from dashboard.i18n import t
from dashboard.ui.admin import AdminPage
from dashboard.ui.backup import age_text, current_status, stale_warning
from dashboard.ui.common import db_session

PAGE = AdminPage("admin.backup", t("backup.caption"), "admin_backup_flash")


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


folder, status = current_status()
st.caption(t("backup.folder", folder=str(folder)))
latest = status.latest
if latest is not None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("backup.latest_at"), f"{latest.created_at:%Y-%m-%d %H:%M}", border=True)
    c2.metric(t("backup.size"), _mib(latest.size), border=True)
    c3.metric(t("backup.age"), age_text(status.age(clock.now())), border=True)  # type: ignore[arg-type]
    c4.metric(t("backup.cases"), f"{latest.cases or 0:,}", border=True)
if not stale_warning(status):
    st.success(t("backup.fresh", hours=status.interval_hours))
if latest is None:
    st.info(t("backup.folder_missing", folder=str(folder)))
else:
    st.subheader(t("backup.list"))
    st.caption(t("backup.count", count=status.count))
    recent = status.backups[:20]
    st.dataframe(
        pd.DataFrame(
            {
                t("backup.name"): [b.path.name for b in recent],
                t("backup.latest_at"): [b.created_at for b in recent],
                t("backup.backend"): [b.backend for b in recent],
                t("backup.revision"): [b.schema_revision or "" for b in recent],
                t("backup.cases"): [b.cases or 0 for b in recent],
                t("backup.size"): [_mib(b.size) for b in recent],
            }
        ),
        hide_index=True,
        width="stretch",
    )

st.subheader(t("backup.how"))
st.caption(t("backup.how_help"))
st.code(
    f"python -m dashboard backup --out {folder} --prune\n"
    f"python -m dashboard restore {folder}/backup-YYYYMMDD-HHMMSS-sqlite --database-url postgresql://…\n"
    "python -m dashboard retention run",
    language="bash",
)

st.subheader(t("backup.retention"))
years = int(cached_setting("retention.mask_after_years"))
st.markdown(t("backup.retention_on", years=years) if years else t("backup.retention_off"))
with db_session() as s:
    run = last_run(s)
if run is None:
    st.caption(t("backup.retention_never"))
else:
    st.caption(t("backup.retention_last", at=f"{run[0]:%Y-%m-%d %H:%M}", detail=run[1]))
