"""The server asks nothing outside this machine.

Streamlit 1.67 looks up the machine's addresses in two places: the start banner (an "External URL" from
``checkip.amazonaws.com`` and a "Network URL" from a UDP socket towards 8.8.8.8), which setting
``browser.serverAddress`` in ``.streamlit/config.toml`` skips, and the check of every cross-origin WebSocket
(``web.server.server_util.is_url_from_allowed_origins``), which no setting skips: it calls both lookups
for any Origin that is not localhost or the configured server address, blocking the server for up to two
seconds each time the outside is unreachable (a failed lookup is not remembered). :func:`answer_locally`
fills Streamlit's own caches of those lookups with local answers, so neither is ever tried.
"""

from __future__ import annotations

from streamlit import net_util

LOOPBACK = "127.0.0.1"


def answer_locally() -> None:
    """Let Streamlit's address lookups answer from here: no public address, the loopback as the internal
    one (both only widen the cross-origin allowlist beyond localhost and the configured address)."""
    net_util._external_ip = ""  # not None: "looked up, none"; an empty name matches no Origin
    net_util._internal_ip = LOOPBACK
