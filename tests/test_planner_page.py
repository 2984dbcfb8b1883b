"""The planner page (reports/planner.html) against `workbench plan` on the same results.

One small simulated world goes through the real pipeline (simulate -> attribute -> clv ->
``workbench plan`` with the CLI's defaults -> report), with one channel renamed to a hostile
name. The page must value an allocation exactly as ``workbench plan --scenarios`` does (its
numbers within 0.5%; the payload's numpy reference to rounding error), make no request, show
the hostile name as text, and download a scenario file the CLI reads back to the same spend.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from browser import CHROMIUM_ARGS, COUNT_TEXT_NODES, chromium_or_skip, rename_channel
from click.testing import CliRunner

from workbench.report.markup import chance

EVIL = "<img src=x onerror=alert(1)>"
RENAMED = "display"
SEED = 3
#: The page agrees with ``workbench plan`` to this relative tolerance (the issue's 0.5%).
PAGE_RTOL = 0.005

pytestmark = pytest.mark.slow


def _plan_cli(folder, out, scenarios=None):
    from workbench.cli import main

    args = [
        "plan",
        "--attribution",
        str(folder / "results" / "attribution.nc"),
        "--clv",
        str(folder / "results" / "clv.nc"),
        "--spend",
        str(folder / "data" / "spend.parquet"),
        "--seed",
        str(SEED),
        "--out",
        str(out),
    ]
    if scenarios is not None:
        args += ["--scenarios", str(scenarios)]
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == 0, outcome.output
    from workbench.store import read_results

    return read_results(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Small simulated results; plan.nc from ``workbench plan`` with its defaults; the report
    and planner pages rendered from them."""
    from workbench.api import report
    from workbench.notebooks import ensure_inputs, ensure_results

    folder = tmp_path_factory.mktemp("planner")
    data = folder / "data"
    paths = ensure_inputs(data, small=True, seed=SEED)
    for table in ("touchpoints", "spend"):
        rename_channel(paths[table], RENAMED, EVIL)
    ensure_results(data, folder / "results", small=True, seed=SEED)
    plan = _plan_cli(folder, folder / "results" / "plan.nc")  # the CLI's draws, as a user runs it
    report(folder / "results", folder / "reports")
    return {"folder": folder, "plan": plan, "page": folder / "reports" / "planner.html"}


def test_payload_reproduces_workbench_plan_for_arbitrary_allocations(world):
    from workbench.api import plan
    from workbench.planning.payload import current_spend, outcomes_from_payload, payload_from_plan
    from workbench.store import read_results

    folder = world["folder"]
    ds = read_results(folder / "results" / "plan.nc")  # the payload survives NetCDF
    payload = payload_from_plan(ds)
    current = current_spend(payload)
    np.testing.assert_allclose(current, ds["spend"].sel(scenario="current").values)
    rng = np.random.default_rng(0)
    channels = payload["channels"]
    mults = rng.uniform(0.0, 2.8, (4, len(channels)))
    mults[0] = 1.0
    mults[0, channels.index(EVIL)] = 0.0  # a channel switched off
    mults[1, :] = 0.4  # everything cut: journeys lose channels
    scenarios = [
        {"name": f"s{i}", "spend": dict(zip(channels, (m * current).tolist(), strict=True))}
        for i, m in enumerate(mults)
    ]
    got = plan(
        str(folder / "results" / "attribution.nc"),
        str(folder / "results" / "clv.nc"),
        str(folder / "data" / "spend.parquet"),
        scenarios=scenarios,
        seed=SEED,
    )
    for name in got["scenario"].values:
        out = outcomes_from_payload(payload, got["spend"].sel(scenario=name).values)
        for key in ("conversions", "value"):
            np.testing.assert_allclose(out[key], got[key].sel(scenario=name).values, rtol=1e-9)


def test_page_is_one_file_with_a_hashed_script_and_no_markup_from_data(world):
    import base64
    import hashlib

    text = world["page"].read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    csp = csp.replace("&#x27;", "'")
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert EVIL not in text  # the name travels as escaped JSON only
    assert not re.search(r"(src|href)=\"(https?:)?//", text)
    assert 'href="planner.html"' in (world["folder"] / "reports" / "report.html").read_text()


@pytest.fixture(scope="module")
def session(world, tmp_path_factory):
    """The page in headless Chromium: two channels changed (one by keyboard), displayed
    numbers read, the scenario file downloaded and run through ``workbench plan``."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    url = world["page"].resolve().as_uri()
    channels = [str(c) for c in world["plan"]["channel"].values]
    evil, other = channels.index(EVIL), channels.index("paid_search")
    shown: dict[str, tuple[str, float]] = {}
    dialogs, requests, errors = [], [], []
    folder = tmp_path_factory.mktemp("download")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            now = float(page.locator(f"#spend-{evil}").input_value())
            page.fill(f"#spend-{evil}", f"{now * 0.4:.2f}")
            page.focus(f"#change-{other}")  # keyboard only: select the field and type
            page.keyboard.press("Control+A")
            page.keyboard.type("35")
            for key in ("conv", "value", "dconv", "dvalue"):
                for part in ("mean", "lo", "hi"):
                    node = page.locator(f"#{key}-{part}")
                    shown[f"{key}-{part}"] = (
                        node.inner_text(),
                        float(node.get_attribute("data-value")),
                    )
            shown["p-beats"] = (page.locator("#p-beats").inner_text(), 0.0)
            allocation = page.evaluate("Array.from(window.planner.spend)")
            text_nodes = page.evaluate(COUNT_TEXT_NODES, EVIL)
            images = page.locator("img").count()
            page.fill("#scenario-name", "two_channels")
            with page.expect_download() as info:
                page.click("#download")
            yaml_path = folder / info.value.suggested_filename
            info.value.save_as(yaml_path)
            page.emulate_media(media="print")
            printed = {
                "channels": page.locator("#channels").is_visible(),
                "summary": page.locator("#print-summary").is_visible(),
                "rows": page.locator("#print-allocation tr").count(),
                "pages": len(re.findall(rb"/Type\s*/Page(?!s)", page.pdf(format="A4"))),
            }
        finally:
            browser.close()
    plan = _plan_cli(world["folder"], folder / "plan.nc", scenarios=yaml_path)
    return {
        "shown": shown,
        "allocation": np.array(allocation),
        "channels": channels,
        "changed": (evil, other),
        "plan": plan,
        "url": url,
        "requests": requests,
        "dialogs": dialogs,
        "errors": errors,
        "text_nodes": text_nodes,
        "images": images,
        "printed": printed,
        "yaml": yaml_path,
    }


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("+", ""))


@pytest.mark.browser
def test_page_values_two_changed_channels_as_workbench_plan_does(session):
    ds = session["plan"].sel(scenario="two_channels")
    current = session["plan"].sel(scenario="current")
    conv_q, value_q = (
        np.quantile(x, [0.05, 0.95]) for x in (ds.conversions.values, ds.value.values)
    )
    expected = {
        "conv-mean": float(ds.conversions.mean()),
        "conv-lo": conv_q[0],
        "conv-hi": conv_q[1],
        "value-mean": float(ds.value.mean()),
        "value-lo": value_q[0],
        "value-hi": value_q[1],
        "dconv-mean": float(ds.delta_conversions_mean),
        "dconv-lo": float(ds.delta_conversions_q05),
        "dconv-hi": float(ds.delta_conversions_q95),
        "dvalue-mean": float(ds.delta_value_mean),
        "dvalue-lo": float(ds.delta_value_q05),
        "dvalue-hi": float(ds.delta_value_q95),
    }
    shown = session["shown"]
    for key, want in expected.items():
        text, exact = shown[key]
        # the page's deltas are judged against the level of what they change
        scale = (
            abs(want)
            if not key.startswith("d")
            else float(current.conversions.mean() if "conv" in key else current.value.mean())
        )
        assert abs(_number(text) - want) <= PAGE_RTOL * scale, (key, text, want)
        assert exact == pytest.approx(want, rel=1e-9, abs=1e-9 * scale), key
    assert shown["p-beats"][0] == chance(float(ds.p_beats_current))
    evil, other = session["changed"]
    mult = session["plan"]["spend_multiplier"].sel(scenario="two_channels").values
    assert mult[evil] == pytest.approx(0.4, rel=1e-3) and mult[other] == pytest.approx(1.35)
    assert np.sum(np.abs(mult - 1) > 1e-12) == 2


@pytest.mark.browser
def test_page_makes_no_request_and_shows_a_hostile_channel_name_as_text(session):
    url = session["url"]
    assert session["requests"] and all(
        u == url or u.startswith(("data:", "blob:")) for u in session["requests"]
    ), session["requests"]
    assert session["dialogs"] == [] and session["errors"] == []
    assert session["text_nodes"] >= 3  # legend, labels, print summary
    assert session["images"] == 0


@pytest.mark.browser
def test_downloaded_scenario_runs_in_workbench_plan_with_the_same_allocation(session):
    spend = session["plan"]["spend"].sel(scenario="two_channels", channel=session["channels"])
    np.testing.assert_allclose(spend.values, session["allocation"], rtol=1e-12)
    assert EVIL in session["yaml"].read_text(encoding="utf-8")


@pytest.mark.browser
def test_print_is_a_one_page_summary_instead_of_the_controls(session):
    printed = session["printed"]
    rows = len(session["channels"]) + 1  # and the total
    assert printed == {"channels": False, "summary": True, "rows": rows, "pages": 1}
