"""The wall's 研判预警 panel: the strongest open alerts of the morning run, in a column beside the map or
in one row above the ticker.

Read from five metres like the rest of the wall (``dashboard.ui.wall``): sizes in viewport units, dark
colours, one still row of fixed height (cut where the screen ends, never wrapped) so that the wall keeps
fitting its screen. The CSS is static; every alert text (grid and building names, categories) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import html

from dashboard.i18n import t_plain
from dashboard.reporting.alert_digest import WallAlerts

e = html.escape

ALERTS_CSS = """
<style>
.wall-alerts { display: flex; align-items: center; background: #111b2b; border: 1px solid #1f2d42;
  border-radius: 0.5vw; height: 4.6vh; overflow: hidden; }
.wall-alerts-label { flex: none; background: #b9770e; color: #fff; font-weight: 700; height: 100%;
  display: flex; align-items: center; padding: 0 1vw; font-size: clamp(24px, 1.3vw, 140px); }
.wall-alerts-items { display: flex; align-items: center; gap: 2vw; overflow: hidden; white-space: nowrap;
  padding: 0 1vw; min-width: 0; }
.wall-alert { flex: none; font-size: clamp(24px, 1.25vw, 120px); color: #e8edf2; }
.wall-alert-tag { font-weight: 700; margin-right: 0.4vw; }
.wall-alert-tag.spike { color: #ffb4a8; } .wall-alert-tag.repeat { color: #ffd479; }
.wall-alert-tag.hotspot { color: #ff8c69; } .wall-alert-tag.risk { color: #9fd3ff; }
.wall-alert-empty { flex: none; font-size: clamp(24px, 1.25vw, 120px); color: #9fb3c8; }
/* beside the map (pages/wall.py: a sub-district narrower than the wall leaves a column for it): a list */
.st-key-wall_alerts_column .wall-alerts { flex-direction: column; align-items: stretch; height: auto;
  max-height: 66vh; }
.st-key-wall_alerts_column .wall-alerts-label { height: auto; padding: 0.8vh 1vw; }
.st-key-wall_alerts_column .wall-alerts-items { flex-direction: column; align-items: flex-start; gap: 1.2vh;
  white-space: normal; padding: 1.2vh 1vw; }
.st-key-wall_alerts_column .wall-alert { flex: none; line-height: 1.35; }
</style>
"""


def alerts_html(panel: WallAlerts, lang: str) -> str:
    """One row above the ticker, as wide, but still: its label with the number of open alerts, then the
    strongest alert of each kind in turn (the strongest first; the row is cut where the screen ends)."""
    total = len(panel.items) + panel.more
    title = t_plain("warning.wall.count", lang, n=total) if total else t_plain("warning.wall.title", lang)
    label = f'<div class="wall-alerts-label">{e(title)}</div>'
    if not panel.items:
        body = f'<span class="wall-alert-empty">{e(t_plain("warning.wall.empty", lang))}</span>'
    else:
        body = "".join(
            f'<span class="wall-alert"><span class="wall-alert-tag {e(kind)}">【{e(tag)}】</span>{e(line)}</span>'
            for kind, tag, line in panel.items
        )
    return f'<div class="wall-alerts">{label}<div class="wall-alerts-items">{body}</div></div>'
