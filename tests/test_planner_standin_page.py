"""The planner page's script on stand-in results whose model has every term the formulas know:
opening-touch terms (roles), a synergy pair, channels cut (journeys lose them) and raised
(newly reached people). The page must give, per draw, what the numpy reference gives (and
through it ``workbench plan``, tests/test_planner_payload.py)."""

from __future__ import annotations

import numpy as np
import pytest
from browser import CHROMIUM_ARGS, chromium_or_skip
from test_planning import CHANNELS, standin_attribution, standin_clv, standin_spend_table

from workbench.planning.payload import outcomes_from_payload, payload_from_plan


def roles_attribution():
    """The planning stand-in with opening terms for every channel, the opening channel of each
    pattern (its first present channel) and a synergy pair (email x search)."""
    ds = standin_attribution()
    rng = np.random.default_rng(11)
    shape = (ds.sizes["chain"], ds.sizes["draw"], len(CHANNELS))
    ds["opening"] = (("chain", "draw", "channel"), np.abs(rng.normal(0.01, 0.004, shape)))
    ds["synergy"] = (
        ("chain", "draw", "channel_pair"),
        np.abs(rng.normal(0.02, 0.005, shape[:2] + (1,))),
    )
    ds = ds.assign_coords(
        pair_first=("channel_pair", ["email"]), pair_second=("channel_pair", ["search"])
    )
    present = ds["pattern_counts"].sum("recency_bin").values > 0  # (pattern, channel)
    first = np.where(present.any(axis=1), present.argmax(axis=1), -1)
    return ds.assign_coords(pattern_first_channel=("pattern", first))


@pytest.fixture(scope="module")
def roles_plan(tmp_path_factory):
    from workbench.api import plan
    from workbench.report.planner import write_planner
    from workbench.store import write_results

    folder = tmp_path_factory.mktemp("roles")
    write_results(roles_attribution(), folder / "attribution.nc")
    write_results(standin_clv(), folder / "clv.nc")
    standin_spend_table().to_csv(folder / "spend.csv", index=False)
    ds = plan(folder / "attribution.nc", folder / "clv.nc", folder / "spend.csv", max_draws=40)
    return ds, write_planner(ds, folder / "reports")


def test_the_stand_in_exercises_opening_terms_and_synergy(roles_plan):
    ds, _ = roles_plan
    assert float(np.abs(ds["planner_opening"]).min()) > 0
    assert ds.sizes["planner_pair"] == 1 and (ds["planner_first_channel"].values >= 0).any()


@pytest.mark.browser
def test_page_gives_per_draw_what_the_reference_gives_for_cuts_raises_and_presets(roles_plan):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    ds, path = roles_plan
    payload = payload_from_plan(ds)
    moves = [("display", "-100"), ("email", "-60"), ("search", "80"), ("email", "150")]
    seen = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.resolve().as_uri(), wait_until="load")
            for channel, pct in moves:
                page.fill(f"#change-{CHANNELS.index(channel)}", pct)
                spend = page.evaluate("Array.from(window.planner.spend)")
                draws = page.evaluate(
                    "s => { const o = window.planner.outcomes(s);"
                    " return [Array.from(o.conversions), Array.from(o.value)]; }",
                    spend,
                )
                seen.append((np.array(spend), *map(np.array, draws)))
            page.locator("#presets button", has_text="optimised").click()
            optimised = float(page.locator("#value-mean").get_attribute("data-value"))
            shares = [0.0, 0.004, 0.5, 0.996, 0.9999, 1.0]
            chances = page.evaluate("ps => ps.map((p) => window.planner.chance(p))", shares)
        finally:
            browser.close()
    assert errors == []
    # 100% (or 0%) only when every draw agrees, as the report says it
    assert chances == ["0%", "<1%", "50%", ">99%", ">99%", "100%"]
    for spend, conversions, value in seen:
        want = outcomes_from_payload(payload, spend)
        np.testing.assert_allclose(conversions, want["conversions"], rtol=1e-10)
        np.testing.assert_allclose(value, want["value"], rtol=1e-10)
    assert optimised == pytest.approx(float(ds["value"].sel(scenario="optimised").mean()), 1e-10)
