"""Run app.py in Streamlit's AppTest the way the server runs it once it has served its first page."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test


class NavigationPagesManager(PagesManager):
    """AppTest forgets before every run that the app uses ``st.navigation`` and, because a ``pages/``
    folder exists, would run a page without app.py (Streamlit's old multipage mode); the page then turns
    that mode off and reruns (``dashboard.ui.common._through_app``), which drops the clicks of that run.
    A server learns it once for good on its first run; AppTest runs start there with this manager."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False


def use_navigation() -> None:
    """Make every later AppTest run go through app.py's ``st.navigation``."""
    app_test.PagesManager = NavigationPagesManager  # type: ignore[misc]
