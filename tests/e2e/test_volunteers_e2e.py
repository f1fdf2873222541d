"""The coverage page in Chromium: the heatmap and the gap list render with data; screenshot for the docs."""

from __future__ import annotations

from tests.e2e import browser as b


def test_coverage_heatmap_and_gap_list(app_base: str, chromium) -> None:  # type: ignore[no-untyped-def]
    page = b.new_page(chromium, app_base, 1920, 1080)
    b.login_page(page, app_base, "volunteers")  # the coverage page is the volunteer manager's home page
    b.settle(page, 1500)
    b.assert_clean(page)
    heatmap = page.locator(".st-key-volcov_heatmap .js-plotly-plot")
    heatmap.wait_for(timeout=30000)
    assert heatmap.locator("g.heatmaplayer image").count() == 1, "the heatmap draws its cells"
    assert heatmap.locator("g.ytick").count() >= 10, "one row per community"
    assert heatmap.locator("g.xtick").count() >= 5, "one column per skill"
    rotated = [
        t
        for t in heatmap.locator("g.xtick text").evaluate_all(
            "ts => ts.map(t => t.getAttribute('transform') || '')"
        )
        if "rotate" in t
    ]
    assert not rotated, "the column labels read horizontally"
    gaps = page.locator(".st-key-volcov_gap_box [data-testid=stDataFrame]")
    gaps.wait_for(timeout=30000)
    assert gaps.bounding_box()["height"] > 200, "the gap list has rows"
    caption = page.get_by_text("个缺口").first
    assert caption.is_visible()
    b.shot(page, "coverage", full_page=False, docs=True)
    page.context.close()
