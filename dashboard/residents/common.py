"""What the public channel's modules share: the system actor residents act as, keyed digests of codes and
phone numbers, and the random 查询码."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from dashboard.config import get_settings
from dashboard.kernel.scope import Actor
from models.enums import Role

RESIDENT = Actor(id=0, username="resident", display_name="居民", role=Role.operator)
"""The one actor every public write goes through intake and the change function as. It has the command
centre's role because a resident's report may land in any grid; what a resident may do at all is decided
before it is used (a lookup proves the right to one case). Its id 0 is recorded as no user, so case
timelines show the step as the system's, never a staff name."""

RESIDENT_NAME = "居民"
"""The actor name of public writes in the audit log (the source address is in the detail)."""

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""The 查询码's letters: no 0/O, 1/I/L, which an elderly resident cannot tell apart on a receipt."""
CODE_LENGTH = 6


def digest(*parts: str) -> str:
    """HMAC-SHA256 of `parts` keyed with the server's secret (hex): a phone number or code cannot be found
    from its digest without the key, and the same phone always gives the same digest (limits, blocks)."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    """A random 查询码 (secrets: not derived from the case number or anything else)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_salt() -> str:
    return secrets.token_hex(16)


def normalise_code(text: str) -> str:
    """A typed 查询码 as stored: upper case, blanks and dashes dropped, full-width letters folded."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text or "")
    return "".join(c for c in folded.upper() if c.isalnum())[:16]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())
