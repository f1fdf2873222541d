"""Test-only network guard for a server started in a subprocess (``PYTHONPATH=tests/netguard``): every
lookup or connection to a destination other than this machine's loopback is written to the file named by
``NET_GUARD_LOG`` and refused, as a machine without outside access would. The first line says it is armed.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any

_LOG = os.environ.get("NET_GUARD_LOG")


def _write(line: str) -> None:
    with open(_LOG, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
        f.write(line + "\n")


def _local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    name = str(host or "").strip("[]").split("%")[0].lower()
    if name in ("", "localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name would need a lookup outside
    return address.is_loopback or address.is_unspecified


def _refuse(kind: str, target: object) -> None:
    _write(f"{kind} {target!r}")
    raise OSError(errno.ENETUNREACH, f"outside network refused by the test guard: {target!r}")


def _inet(sock: socket.socket, address: Any) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0])


if _LOG:
    _getaddrinfo, _create_connection = socket.getaddrinfo, socket.create_connection
    _connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):
            _refuse("getaddrinfo", host)
        return _getaddrinfo(host, *args, **kwargs)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _local(address[0]):
            _refuse("create_connection", address)
        return _create_connection(address, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if _inet(self, address):
            _refuse("connect", address)
        return _connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if _inet(self, address):
            _refuse("connect_ex", address)
        return _connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        if _inet(self, args[-1]):
            _refuse("sendto", args[-1])
        return _sendto(self, data, *args)

    socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection  # type: ignore[assignment]
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    _write(f"armed {os.getpid()}")
