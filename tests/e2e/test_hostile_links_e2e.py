"""A crafted link in Chromium: a Markdown link, an image and HTML in a query parameter show as text in the page
they land on, also after the login the link leads through; nothing links to or loads from another host."""

from __future__ import annotations

from urllib.parse import quote

from dashboard.kernel.text import WORD_JOINER
from tests.e2e import browser as b

HOST = "evil.example"
HOSTILE = (
    f"[点我](http://{HOST}/login) ![](http://{HOST}/p.png) <img src=http://{HOST}/x.png> www.{HOST} **粗**"
)
SHORT = f"![](//{HOST}/p)"
"""An image that fits the matching page's 24-character case box."""


def _warnings(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The warnings' text as a reader sees it (without the invisible word joiners that break bare URLs)."""
    texts = page.locator("[data-testid=stAlertContentWarning]").all_inner_texts()
    return [text.replace(WORD_JOINER, "") for text in texts]


def _no_hostile_dom(page) -> None:  # type: ignore[no-untyped-def]
    links = page.eval_on_selector_all(f'a[href*="{HOST}"]', "els => els.map(e => e.outerHTML)")
    images = page.eval_on_selector_all(
        f'img[src*="{HOST}"], [srcset*="{HOST}"]', "els => els.map(e => e.outerHTML)"
    )
    assert links == [] and images == [], (links, images)
    assert page.locator("strong", has_text="粗").count() == 0  # no bold from the URL either
    b.assert_clean(page)  # no request left for the other host


def test_crafted_grid_link_survives_login_as_text(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base)
    # Opened before logging in: the app remembers the page and its query, and goes there after the login.
    page.goto(f"{app_base}/volunteers?grid={quote(HOSTILE)}")
    b.settle(page)
    page.locator(".st-key-login_username input").fill("volunteers")
    page.locator(".st-key-login_password input").fill("demo1234")
    page.locator(".st-key-login_submit button").click()
    page.wait_for_selector("[data-testid=stSidebar]", state="attached", timeout=60000)
    b.settle(page, 1500)
    assert "/volunteers" in page.url
    warnings = _warnings(page)
    assert any(HOSTILE in w for w in warnings), warnings  # literally, with no backslash showing
    _no_hostile_dom(page)
    page.context.close()


def test_crafted_case_link_on_matching_is_text(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base)
    b.login_page(page, app_base, "operator")
    b.goto(page, app_base, "matching", f"case={quote(SHORT)}")
    warnings = _warnings(page)
    assert any(SHORT in w for w in warnings), warnings
    _no_hostile_dom(page)
    page.context.close()
