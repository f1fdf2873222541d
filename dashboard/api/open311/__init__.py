"""The Open311 GeoReport v2 API under ``/open311/v2/``: categories as services, cases as service requests,
JSON and XML, served by the dashboard's own process (``routes.routes()`` is added to ``st.App`` in app.py).

Who may call what is :mod:`dashboard.api.clients` (keys, scopes, rate limits, audit); what a request looks
like is :mod:`dashboard.io.open311` (the same representation as the Open311 export); new requests go through
the staff intake (:mod:`dashboard.cases.intake`).
"""
