"""The HTTP route that serves case photos: ``GET /_app/photos/{attachment_id}/{size}`` (size ``thumb`` or
``large``), beside the Streamlit pages (``st.App(routes=…)`` in app.py; Streamlit keeps ``/media/`` for the
files of its own widgets).

Every request is checked, as a page run is: the signed-in session cookie (``dashboard.admin.auth.resume``)
names the user, and the photo's case must be in that user's scope. An id alone never gets a picture: no
session is 403, a case out of scope is 403, an unknown or removed photo 404. The answer may be kept by
the browser only (``Cache-Control: private``) and briefly, and it carries an ETag (the content hash), so a
page shown again costs a 304. Served bytes are renditions re-encoded without metadata
(:mod:`dashboard.media.renditions`).
"""

from __future__ import annotations

from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboard.admin import auth
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter
from dashboard.media.attachments import ROUTE_PREFIX, stored_bytes
from dashboard.media.renditions import SIZES
from models import Case, CaseAttachment

PATH = ROUTE_PREFIX + "/{attachment_id:int}/{size:str}"
CACHE_CONTROL = "private, max-age=300"
"""Browser cache only, five minutes: a user whose scope changes is checked again soon."""
_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}


def _actor(cookie: str | None) -> Actor | None:
    from dashboard.admin.settings import cached_setting
    from dashboard.config import get_settings

    if not cookie:
        return None
    idle = int(cached_setting("session_idle_minutes"))  # type: ignore[arg-type]
    return auth.resume(None, cookie, get_settings().secret_key, idle)


def _in_scope(session: Session, actor: Actor, attachment_id: int) -> bool | None:
    """None: no such live photo; else whether its case is in the actor's scope."""
    exists = session.exec(
        select(CaseAttachment.case_id).where(
            CaseAttachment.id == attachment_id, CaseAttachment.deleted_at.is_(None)
        )
    ).first()
    if exists is None:
        return None
    if not may(actor, "case.read"):
        return False
    return session.exec(select(Case.id).where(Case.id == exists, case_filter(actor))).first() is not None


def answer(cookie: str | None, attachment_id: int, size: str, if_none_match: str | None = None) -> Response:
    """The response for one photo request (synchronous: the database and the store are)."""
    from dashboard.db import session_scope

    if size not in SIZES:
        return Response(status_code=404, headers=_HEADERS)
    actor = _actor(cookie)
    if actor is None:
        return Response(status_code=403, headers=_HEADERS)
    with session_scope() as session:
        allowed = _in_scope(session, actor, attachment_id)
        if allowed is None:
            return Response(status_code=404, headers=_HEADERS)
        if not allowed:
            return Response(status_code=403, headers=_HEADERS)
        content_hash = session.exec(
            select(CaseAttachment.content_hash).where(CaseAttachment.id == attachment_id)
        ).one()
        etag = f'"{content_hash[:32]}-{size}"'
        headers = {**_HEADERS, "Cache-Control": CACHE_CONTROL, "ETag": etag, "Vary": "Cookie"}
        if if_none_match and etag in if_none_match:
            return Response(status_code=304, headers=headers)
        found = stored_bytes(session, attachment_id, size)
    if found is None:
        return Response(status_code=404, headers=_HEADERS)
    data, mime = found
    return Response(data, media_type=mime, headers=headers)


async def _serve(request: Request) -> Response:
    return await run_in_threadpool(
        answer,
        request.cookies.get(auth.COOKIE_NAME),
        int(request.path_params["attachment_id"]),
        str(request.path_params["size"]),
        request.headers.get("if-none-match"),
    )


def routes() -> list[Route]:
    """The photo route, for ``st.App(routes=…)``."""
    return [Route(PATH, _serve, methods=["GET"])]
