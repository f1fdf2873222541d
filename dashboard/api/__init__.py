"""The app's own HTTP routes, served by the same process as the pages (``st.App`` in ``app.py``)."""
