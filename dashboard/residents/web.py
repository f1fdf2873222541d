"""The public pages under ``/public/``: plain HTML served by the app's own Starlette routes (no login, no
WebSocket, no JavaScript), 360 px wide first, Chinese with an English switch (``?lang=en``, kept in a
cookie). Every POST carries a CSRF token tied to a signed cookie; every write is one unit of work with its
audit row and the source address; nothing of a staff session is read or reachable from here.

Routes: ``/public/report`` (随手拍 · 我要反映; ``?grid=<grid code>`` from a QR code preselects the grid),
``/public/captcha`` (the CAPTCHA image), ``/public/lookup`` (进度查询), ``/public/case`` (the timeline the
lookup proved, and the rating), ``/public/rate``, ``/public/photo/{id}/{thumb|large}`` (a public photo of the
case the lookup proved: :mod:`dashboard.residents.photos`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard import db
from dashboard.admin.auth import client_address
from dashboard.config import get_settings
from dashboard.i18n import LANGS, t_plain
from dashboard.kernel.errors import DomainError
from dashboard.kernel.text import clean_text
from dashboard.residents import abuse, captcha, lookup, photos, rating, signing
from dashboard.residents.places import resolve_place
from dashboard.residents.report import MAX_PHOTOS, PublicForm, PublicInvalid, submit_report
from dashboard.residents.topics import available_topics

PREFIX = "/public"
MAX_PHOTO_BYTES = 10 * 1024 * 1024
RECEIPT_SECONDS = 1800
"""How long the receipt page can be reloaded after a report (its cookie ends with the browser session)."""
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def source_of(request: Request) -> str:
    """The client's address, or behind a trusted proxy the address it appended to X-Forwarded-For."""
    peer = request.client.host if request.client else None
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return client_address(peer, forwarded, int(get_settings().trusted_proxy))


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(signing.LANG_COOKIE)
    return asked if asked in LANGS else get_settings().lang if get_settings().lang in LANGS else "zh"


def _https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto") if get_settings().trusted_proxy else None
    return (proto or request.url.scheme) == "https"


class _Page:
    """One request's rendering context: language, CSRF cookie, and the cookies to set."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.lang = _lang(request)
        self.csrf_cookie = request.cookies.get(signing.CSRF_COOKIE) or signing.new_csrf_cookie()
        self.cookies: dict[str, tuple[str, int | None]] = {}

    def t(self, key: str, **values: object) -> str:
        return t_plain(f"residents.{key}", self.lang, **values)

    def error_text(self, error: DomainError) -> str:
        values = {k: v for k, v in error.values.items()}
        return t_plain(error.key, self.lang, **values)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        other = "en" if self.lang == "zh" else "zh"
        html = _ENV.get_template(template).render(
            t=self.t,
            msg=lambda key, **values: t_plain(key, self.lang, **values),
            lang=self.lang,
            other_lang=other,
            path=self.request.url.path,
            switch_url=self._switch_url(other),
            csrf=signing.csrf_field(self.csrf_cookie),
            **context,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def _switch_url(self, lang: str) -> str:
        """This page in the other language, keeping its query (a QR link's grid)."""
        query = {k: v for k, v in self.request.query_params.items() if k != "lang"}
        return f"{self.request.url.path}?{urlencode({**query, 'lang': lang})}"

    def finish(self, response: Response) -> Response:
        for name, value in _HEADERS.items():
            response.headers[name] = value
        secure = _https(self.request)
        response.set_cookie(
            signing.CSRF_COOKIE,
            self.csrf_cookie,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        if self.request.query_params.get("lang") in LANGS:
            response.set_cookie(signing.LANG_COOKIE, self.lang, path=PREFIX, samesite="lax", secure=secure)
        for name, (value, max_age) in self.cookies.items():
            response.set_cookie(
                name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=secure
            )
        return response


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == "null" or urlparse(origin).netloc == request.headers.get("host")


async def _posted(request: Request, page: _Page) -> FormData | None:
    """The posted form when its CSRF token matches the browser's cookie (None: refuse the post)."""
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=40, max_part_size=MAX_PHOTO_BYTES)
    cookie = request.cookies.get(signing.CSRF_COOKIE)
    field = form.get("csrf")
    if not _same_origin(request) or not signing.csrf_ok(cookie, field if isinstance(field, str) else None):
        return None
    return form


def _forbidden(page: _Page) -> HTMLResponse:
    return page.render("message.html", 403, message=page.t("err.csrf"))


def _text(form: FormData | None, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def _id(form: FormData | None, name: str) -> int | None:
    text = _text(form, name).strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _read(fn: Callable[[Session], Any]) -> Any:
    with db.session_scope() as session:
        return fn(session)


# ---------------------------------------------------------------- 随手拍 · 我要反映


def _report_context(session: Session, request: Request, form: FormData | None, source: str) -> dict[str, Any]:
    q = request.query_params
    place = resolve_place(
        session,
        community=_text(form, "community") if form is not None else q.get("community"),
        grid=_text(form, "grid") if form is not None else None,
        grid_code=None if form is not None else q.get("grid"),
        building=_text(form, "building") if form is not None else q.get("building"),
    )
    return {
        "topics": [t.key for t in available_topics(session)],
        "place": place,
        "values": {k: _text(form, k) for k in ("topic", "description", "address", "name", "phone")},
        "consent": _text(form, "consent") == "1",
        "captcha": captcha.new_challenge() if abuse.needs_captcha(session, source) else "",
        "max_photos": MAX_PHOTOS,
        "text_max": 500,
    }


async def report_form(request: Request) -> Response:
    page = _Page(request)
    source = source_of(request)
    context = await run_in_threadpool(_read, lambda s: _report_context(s, request, None, source))
    return page.render("report.html", **context, problems={}, error="")


async def _photos(form: FormData) -> list[tuple[str, bytes]]:
    files = []
    for item in form.getlist("photos"):
        if isinstance(item, UploadFile) and item.filename:
            data = await item.read()
            if data:
                files.append((clean_text(item.filename)[:100], data))
    return files


def _public_form(form: FormData, photos: list[tuple[str, bytes]]) -> PublicForm:
    return PublicForm(
        topic=_text(form, "topic"),
        description=_text(form, "description"),
        community_id=_id(form, "community"),
        grid_id=_id(form, "grid"),
        building_id=_id(form, "building"),
        address=_text(form, "address"),
        name=_text(form, "name"),
        phone=_text(form, "phone"),
        consent=_text(form, "consent") == "1",
        photos=photos,
    )


async def report_post(request: Request) -> Response:
    page = _Page(request)
    form = await _posted(request, page)
    if form is None:
        return _forbidden(page)
    source = source_of(request)
    problems: dict[str, str] = {}
    error = ""
    if _text(form, "action") != "place":
        data = _public_form(form, await _photos(form))
        token, typed = _text(form, "captcha_token"), _text(form, "captcha")

        def unit(session: Session) -> Any:
            passed = bool(token) and captcha.verify(session, token, typed)
            return submit_report(session, data, source=source, captcha_passed=passed)

        try:
            receipt = await run_in_threadpool(db.run_unit, unit)
        except PublicInvalid as exc:
            problems = exc.problems
        except DomainError as exc:
            error = page.error_text(exc)
        else:
            # Post/redirect/get: reloading the receipt must not send the report again.
            value = f"{receipt.number}:{receipt.code}:{int(receipt.supported)}"
            page.cookies[signing.RECEIPT_COOKIE] = (signing.sign("receipt", value, RECEIPT_SECONDS), None)
            return page.finish(RedirectResponse(f"{PREFIX}/receipt", status_code=303))
    context = await run_in_threadpool(_read, lambda s: _report_context(s, request, form, source))
    return page.render("report.html", **context, problems=problems, error=error)


async def receipt_page(request: Request) -> Response:
    page = _Page(request)
    value = signing.unsign("receipt", request.cookies.get(signing.RECEIPT_COOKIE)) or ""
    parts = value.split(":")
    if len(parts) != 3:
        return page.finish(RedirectResponse(f"{PREFIX}/report", status_code=303))
    number, code, supported = parts
    return page.render("receipt.html", number=number, code=code, supported=supported == "1")


async def captcha_image(request: Request) -> Response:
    page = _Page(request)
    png = await run_in_threadpool(captcha.image, request.query_params.get("t", ""))
    return page.finish(Response(png, media_type="image/png"))


# ---------------------------------------------------------------- 进度查询, 评价


async def lookup_form(request: Request) -> Response:
    page = _Page(request)
    number = lookup.normalise_number(request.query_params.get("number", ""))
    return page.render("lookup.html", number=number, error="")


async def lookup_post(request: Request) -> Response:
    page = _Page(request)
    form = await _posted(request, page)
    if form is None:
        return _forbidden(page)
    number, secret, source = _text(form, "number"), _text(form, "secret"), source_of(request)
    try:
        found = await run_in_threadpool(db.run_unit, lambda s: lookup.prove(s, number, secret, source=source))
    except DomainError as exc:
        return page.render("lookup.html", number=lookup.normalise_number(number), error=page.error_text(exc))
    if found is None:
        return page.render(
            "lookup.html", number=lookup.normalise_number(number), error=page.t("err.wrong_code")
        )
    page.cookies[signing.VIEW_COOKIE] = (
        signing.sign("view", str(found), signing.VIEW_SECONDS),
        signing.VIEW_SECONDS,
    )
    return page.finish(RedirectResponse(f"{PREFIX}/case", status_code=303))


def _proved(request: Request) -> int | None:
    value = signing.unsign("view", request.cookies.get(signing.VIEW_COOKIE))
    return int(value) if value and value.isdigit() else None


async def case_page(request: Request) -> Response:
    page = _Page(request)
    report_id = _proved(request)
    view = await run_in_threadpool(_read, lambda s: lookup.public_case(s, report_id)) if report_id else None
    if view is None:
        return page.finish(RedirectResponse(f"{PREFIX}/lookup", status_code=303))
    rated = request.query_params.get("rated", "")
    return page.render("case.html", case=view, ratings=rating.RATINGS, problems={}, error="", rated=rated)


async def photo(request: Request) -> Response:
    """A public photo of the case this browser's lookup proved: 403 without a proven lookup (the id alone
    gets nothing), 404 for a photo that is not a public one of that case."""
    page = _Page(request)
    report_id = _proved(request)
    if report_id is None:
        return page.finish(Response(status_code=403))
    attachment_id, size = int(request.path_params["attachment_id"]), str(request.path_params["size"])
    found = await run_in_threadpool(_read, lambda s: photos.public_photo(s, report_id, attachment_id, size))
    if found is None:
        return page.finish(Response(status_code=404))
    data, mime = found
    return page.finish(Response(data, media_type=mime))


async def rate_post(request: Request) -> Response:
    page = _Page(request)
    form = await _posted(request, page)
    report_id = _proved(request)
    if form is None or report_id is None:
        return _forbidden(page)
    value, comment, source = _text(form, "rating"), _text(form, "comment"), source_of(request)
    problems: dict[str, str] = {}
    error = ""
    try:
        done = await run_in_threadpool(
            db.run_unit, lambda s: rating.rate(s, report_id, value, comment, source=source)
        )
    except PublicInvalid as exc:
        problems = exc.problems
    except DomainError as exc:
        error = page.error_text(exc)
    else:
        outcome = "reopened" if done.reopened else "thanks"
        return page.finish(RedirectResponse(f"{PREFIX}/case?rated={outcome}", status_code=303))
    view = await run_in_threadpool(_read, lambda s: lookup.public_case(s, report_id))
    return page.render(
        "case.html", case=view, ratings=rating.RATINGS, problems=problems, error=error, rated=""
    )


async def home(request: Request) -> Response:
    return _Page(request).finish(RedirectResponse(f"{PREFIX}/report", status_code=303))


def routes() -> list[Route]:
    """The public pages' routes (added beside the app's own in ``app.py``)."""
    return [
        Route(PREFIX, home, methods=["GET"]),
        Route(f"{PREFIX}/", home, methods=["GET"]),
        Route(f"{PREFIX}/report", report_form, methods=["GET"]),
        Route(f"{PREFIX}/report", report_post, methods=["POST"]),
        Route(f"{PREFIX}/receipt", receipt_page, methods=["GET"]),
        Route(f"{PREFIX}/captcha", captcha_image, methods=["GET"]),
        Route(f"{PREFIX}/lookup", lookup_form, methods=["GET"]),
        Route(f"{PREFIX}/lookup", lookup_post, methods=["POST"]),
        Route(f"{PREFIX}/case", case_page, methods=["GET"]),
        Route(f"{PREFIX}/rate", rate_post, methods=["POST"]),
        Route(f"{PREFIX}/photo/{{attachment_id:int}}/{{size:str}}", photo, methods=["GET"]),
    ]
