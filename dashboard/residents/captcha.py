"""A self-hosted CAPTCHA (no outside service): a Pillow-drawn image of random characters.

A challenge is a token ``nonce.expiry.mac``, signed with the server's secret, handed to the form; its
answer is derived from the nonce with the same secret, so the browser cannot read it from the token and no
server state is needed until it is used. A token is good for one attempt (its nonce is recorded as used
in `public_attempts`), for ten minutes.
"""

from __future__ import annotations

import io
import random
import secrets
import time

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sqlmodel import Session

from dashboard import clock
from dashboard.residents import counters
from dashboard.residents.common import CODE_ALPHABET, digest, normalise_code, same

LENGTH = 4
LIFETIME_SECONDS = 600
USED = "captcha.used"
WIDTH, HEIGHT = 200, 72


def new_challenge() -> str:
    """A fresh challenge token."""
    nonce = secrets.token_urlsafe(12)
    expires = str(int(time.time()) + LIFETIME_SECONDS)
    return f"{nonce}.{expires}.{digest('captcha', nonce, expires)}"


def _parts(token: str) -> tuple[str, int] | None:
    """(nonce, expiry) of a genuine, unexpired token; None otherwise."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    nonce, expires, mac = parts
    if not same(digest("captcha", nonce, expires), mac) or int(expires) < time.time():
        return None
    return nonce, int(expires)


def answer(token: str) -> str:
    """The characters the image of `token` shows ('' for a token that is not genuine)."""
    parts = _parts(token)
    if parts is None:
        return ""
    raw = bytes.fromhex(digest("captcha-answer", parts[0]))
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in raw[:LENGTH])


def verify(session: Session, token: str, typed: str) -> bool:
    """Whether `typed` answers `token`; the token is used up by this attempt, right or wrong (recorded
    in the caller's transaction)."""
    expected = answer(token)
    if not expected:
        return False
    nonce = token.split(".", 1)[0]
    first = counters.bump(session, USED, nonce, counters.DAY, clock.now()) == 1
    return first and same(normalise_code(typed), expected)


def image(token: str) -> bytes:
    """The PNG of the challenge: the characters offset, turned and over noise lines."""
    text = answer(token) or "????"
    rng = random.Random(secrets.randbits(64))
    img = Image.new("RGB", (WIDTH, HEIGHT), (245, 245, 240))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        draw.line(
            [
                (rng.randint(0, WIDTH), rng.randint(0, HEIGHT)),
                (rng.randint(0, WIDTH), rng.randint(0, HEIGHT)),
            ],
            fill=(rng.randint(90, 180), rng.randint(90, 180), rng.randint(90, 180)),
            width=2,
        )
    font = ImageFont.load_default(size=44)
    step = WIDTH // (LENGTH + 1)
    for i, char in enumerate(text):
        glyph = Image.new("RGBA", (60, 64), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text(
            (8, 4), char, font=font, fill=(rng.randint(0, 80), 30, rng.randint(60, 120))
        )
        glyph = glyph.rotate(rng.uniform(-25, 25), expand=False, resample=Image.Resampling.BICUBIC)
        img.paste(glyph, (step // 2 + i * step + rng.randint(-4, 4), rng.randint(0, 8)), glyph)
    for _ in range(120):
        draw.point((rng.randint(0, WIDTH - 1), rng.randint(0, HEIGHT - 1)), fill=(120, 120, 120))
    out = io.BytesIO()
    img.filter(ImageFilter.SMOOTH).save(out, format="PNG")
    return out.getvalue()
