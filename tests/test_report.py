"""The HTML report: sections from result files, honest about what is missing, escaped, offline.

Small stand-in result Datasets follow docs/contracts.md (attribution.nc, clv.nc, plan.nc) so
the report's arithmetic can be checked against hand-computed numbers.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import xarray as xr
from browser import CHROMIUM_ARGS, COUNT_TEXT_NODES, chromium_or_skip, rename_channel

from workbench.errors import InputError
from workbench.report import summaries
from workbench.store import write_results

EVIL = "<script>alert(1)</script>"
CHANNELS = ["display", "email", "search", EVIL]
SECTION_IDS = ("summary", "channels", "kpis", "clv", "budget", "data-quality", "diagnostics")


def standin_attribution(channels=CHANNELS, seed=0) -> xr.Dataset:
    """attribution.nc as in docs/contracts.md: 2 chains x 50 draws, known credit per channel."""
    rng = np.random.default_rng(seed)
    n_c = len(channels)
    true_credit = np.arange(1, n_c + 1) * 100.0  # 100, 200, 300, ... conversions
    draws = true_credit + rng.normal(0, 5, size=(2, 50, n_c))
    heur = np.tile(np.linspace(1, 2, n_c) * 100.0, (6, 1))
    heur[1] = [400.0] + [100.0] * (n_c - 1)  # last touch: first channel gets most
    return xr.Dataset(
        {
            "attributed_conversions": (("chain", "draw", "channel"), draws),
            "incremental_conversions": (("chain", "draw", "channel"), draws * 0.8),
            "baseline_conversions": (("chain", "draw"), 50 + rng.normal(0, 2, (2, 50))),
            "heuristic_credit": (("method", "channel"), heur),
            "observed_conversions": ((), 1_150.0),
            "organic_conversions": ((), 100.0),
            "beta": (("chain", "draw", "channel"), rng.gamma(2, 0.01, (2, 50, n_c))),
            "weekly_touches": (("week", "channel"), rng.poisson(50, (6, n_c)).astype(float)),
        },
        coords={
            "channel": channels,
            "method": [
                "first_touch",
                "last_touch",
                "linear",
                "time_decay",
                "position_based",
                "markov",
            ],
            "week": np.arange(6),
        },
        attrs={
            "row_counts": {"touchpoints": 12_345, "conversions": 1_150},
            "inputs": {"touchpoints": {"path": "data/touch.parquet", "sha256": "ab" * 32}},
            "settings": {"lookback_days": 30.0},
            "posterior_method": "nuts",
            "rhat_max": 1.01,
            "divergences": 0,
            "diagnostics_ok": 1,
        },
    )


def standin_clv(channels=CHANNELS, n=200, seed=1) -> xr.Dataset:
    """clv.nc (MLE form) with a holdout and CLV by channel."""
    rng = np.random.default_rng(seed)
    freq = rng.poisson(1.5, n).astype(float)
    clv = rng.gamma(2, 50, n)
    ds = xr.Dataset(
        {
            "frequency": ("customer_id", freq),
            "recency": ("customer_id", rng.uniform(0, 30, n)),
            "T": ("customer_id", np.full(n, 39.0)),
            "monetary_value": ("customer_id", rng.gamma(5, 5, n)),
            "p_alive": ("customer_id", rng.uniform(0.2, 1, n)),
            "expected_purchases": ("customer_id", rng.gamma(2, 1, n)),
            "clv": ("customer_id", clv),
            "predicted_holdout_purchases": ("customer_id", freq * 0.5 + 0.1),
            "actual_holdout_purchases": (
                "customer_id",
                rng.poisson(freq * 0.5 + 0.1).astype(float),
            ),
            "params": ("param", [0.243, 4.414, 0.793, 2.426, 6.25, 3.74, 15.44]),
            "clv_by_channel": ("channel", np.linspace(80, 120, len(channels))),
        },
        coords={
            "customer_id": [f"c{i}" for i in range(n)],
            "param": ["r", "alpha", "a", "b", "p", "q", "v"],
            "channel": channels,
        },
        attrs={"time_unit": "W", "horizon": 52.0, "annual_discount_rate": 0.1},
    )
    ds.attrs["row_counts"] = {"transactions": 900}
    return ds


def standin_plan(channels=CHANNELS, seed=2) -> xr.Dataset:
    """plan.nc with scenarios current / shift / optimised, KPIs and response curves."""
    rng = np.random.default_rng(seed)
    n_c = len(channels)
    current = np.full(n_c, 1000.0)
    optimised = current.copy()
    optimised[0], optimised[-1] = 500.0, 1500.0
    shift = current * 1.1
    spend = np.stack([current, shift, optimised])
    conv = np.stack([rng.normal(m, 5, 100) for m in (1000, 1020, 1080)])
    kpi_names = ["spend", "conversions", "cpa", "cac", "roas", "retention", "clv", "clv_to_cac"]
    kpi = rng.uniform(0.5, 5, (n_c, len(kpi_names)))
    kpi[:, kpi_names.index("clv_to_cac")] = np.arange(n_c) + 1.0  # last channel is best
    mult = np.linspace(0, 2, 5)
    response = 200 * (1 - np.exp(-mult))[None, :, None] + rng.normal(0, 1, (n_c, 5, 100))
    return xr.Dataset(
        {
            "spend": (("scenario", "channel"), spend),
            "conversions": (("scenario", "draw"), conv),
            "value": (("scenario", "draw"), conv * 100),
            "p_beats_current": ("scenario", [0.5, 0.9, 0.99]),
            "description": ("scenario", ["as now", "<b>all</b> +10%", "optimiser"]),
            "kpi_period": (
                ("period_half", "channel", "period_metric"),
                np.stack([np.full((n_c, 2), 10.0), np.full((n_c, 2), 20.0)]),
            ),
            "kpi_value": (("channel", "kpi"), kpi),
            "kpi_value_lower": (("channel", "kpi"), kpi * 0.8),
            "kpi_value_upper": (("channel", "kpi"), kpi * 1.2),
            "response_conversions": (("channel", "multiplier", "draw"), response),
        },
        coords={
            "scenario": ["current", "shift", "optimised"],
            "channel": channels,
            "kpi": kpi_names,
            "multiplier": mult,
            "period_half": ["first_half", "second_half"],
            "period_metric": ["spend", "cpa"],
        },
    )


@pytest.fixture()
def results_dir(tmp_path):
    folder = tmp_path / "results"
    write_results(standin_attribution(), folder / "attribution.nc")
    write_results(standin_clv(), folder / "clv.nc")
    write_results(standin_plan(), folder / "plan.nc")
    return folder


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, flags=re.S))


# --- summaries: known answers ------------------------------------------------------------------


def test_channel_credit_shares_are_per_draw_fractions_of_channel_credit():
    ds = standin_attribution(channels=["a", "b"])
    ds["attributed_conversions"][:] = np.array([100.0, 300.0])
    table = summaries.channel_credit(ds)
    assert table.loc["a", "bayes"] == pytest.approx(100.0)
    assert table.loc["b", "bayes_share"] == pytest.approx(0.75)
    assert table.loc["a", "bayes_share_lower"] == pytest.approx(0.25)
    # last touch stand-in: [400, 100] -> 80% / 20%
    assert table.loc["a", "last_touch_share"] == pytest.approx(0.8)


def test_scenario_deltas_are_against_the_current_plan_per_draw():
    plan = standin_plan(channels=["a", "b"])
    table = summaries.scenarios(plan)
    expected = (plan["conversions"].sel(scenario="optimised") - plan["conversions"][0]).mean()
    assert table.loc["optimised", "delta_conversions"] == pytest.approx(float(expected))
    assert table.loc["current", "delta_conversions"] == pytest.approx(0.0)
    assert table.loc["optimised", "spend"] == pytest.approx(2000.0)


def test_stored_scenario_quantiles_are_used_when_present():
    plan = standin_plan(channels=["a", "b"])
    plan["delta_value_mean"] = ("scenario", [0.0, 1.0, 2.0])
    plan["delta_value_q05"] = ("scenario", [0.0, -1.0, 1.5])
    plan["delta_value_q95"] = ("scenario", [0.0, 3.0, 2.5])
    table = summaries.scenarios(plan)
    assert table.loc[
        "optimised", ["delta_value", "delta_value_lower", "delta_value_upper"]
    ].tolist() == [
        2.0,
        1.5,
        2.5,
    ]


def test_retention_curve_is_the_stored_curve_and_matches_closed_form_when_dropout_is_certain():
    # With p ~ Beta(a, b) concentrated at 1, retention is the Gamma mixture of exp(-lambda t):
    # (alpha / (alpha + t))**r. The report draws the curve clv.nc stores, computed by clv.
    from clv.tracking import retention_curve

    ds = standin_clv(channels=["a"])
    assert summaries.retention_curve(ds) is None
    ds["params"][:4] = [0.5, 4.0, 2000.0, 0.001]
    ds = ds.merge(retention_curve(ds["params"], np.linspace(0.0, 20.0, 60)))
    curve = summaries.retention_curve(ds)
    expected = (4.0 / (4.0 + curve["t"])) ** 0.5
    np.testing.assert_allclose(curve["mean"], expected, rtol=2e-3)
    assert curve["mean"].is_monotonic_decreasing


def test_conditional_expectation_groups_customers_by_calibration_frequency():
    ds = standin_clv(channels=["a"], n=4)
    ds["frequency"][:] = [0, 0, 1, 9]
    ds["actual_holdout_purchases"][:] = [0, 2, 1, 5]
    table = summaries.conditional_expectation(ds)
    assert table.loc["0", "actual"] == pytest.approx(1.0)
    assert table.loc["7+", "customers"] == 1


# --- figures ------------------------------------------------------------------------------------


def test_credit_figure_draws_the_shares_it_reports():
    from workbench.report import figures

    ds = standin_attribution(channels=["a", "b"])
    ds["attributed_conversions"][:] = np.array([100.0, 300.0])
    fig = figures.channel_credit(ds)
    from matplotlib.container import BarContainer

    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    bayes, last_touch, markov = bars
    # patches follow the channel order (a, b); a is drawn on top
    assert [p.get_width() for p in bayes.patches] == pytest.approx([25.0, 75.0])
    assert [p.get_width() for p in last_touch.patches] == pytest.approx([80.0, 20.0])
    assert bayes.patches[0].get_y() > bayes.patches[1].get_y()
    assert len(markov.patches) == 2


def test_every_figure_is_absent_not_broken_when_its_variables_are_missing():
    from workbench.report import figures

    empty = xr.Dataset()
    for fn in (
        figures.channel_credit,
        figures.clv_distribution,
        figures.retention,
        figures.conditional_expectation,
        figures.tracking,
        figures.scenarios,
        figures.allocation,
        figures.response_curves,
        figures.weekly_touches,
        figures.posterior_predictive,
    ):
        assert fn(empty) is None, fn.__name__


# --- the page -----------------------------------------------------------------------------------


def test_report_has_every_section_with_key_numbers(results_dir, tmp_path):
    from workbench.api import report

    path = report(results_dir, tmp_path / "reports")
    page = path.read_text()
    sections = _sections(page)
    assert set(SECTION_IDS) <= set(sections)
    # organic share 100 / 1150 = 8.7% -> "9%"
    assert "100 (9%)" in sections["summary"]
    # the best CLV:CAC channel is the last one (the evil name), escaped
    assert html.escape(EVIL) in sections["summary"]
    assert "<details>" in sections["diagnostics"]
    assert "90% interval" in sections["channels"]
    assert "All channels" not in sections["kpis"]  # stand-in has no kpi_total
    quality = sections["data-quality"]
    assert "Rows rejected: none" in quality
    assert "Organic conversions" in quality and "100 (9% of all)" in quality
    assert "touch.parquet" in quality and "12,345" in quality  # file and rows read
    assert "&lt;b&gt;all&lt;/b&gt; +10%" in sections["budget"]  # scenario text, escaped
    assert "CPA (second half)" in sections["kpis"] and "<td class=num>20</td>" in sections["kpis"]


def test_every_data_string_is_escaped_and_nothing_is_fetched(results_dir, tmp_path):
    from workbench.api import report

    page = report(results_dir, tmp_path / "reports").read_text()
    assert EVIL not in page
    assert html.escape(EVIL) in page
    # only inline data: no src/href pointing outside the file, no scripts
    assert "<script" not in page
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert "@import" not in page and "url(" not in page


def test_an_interval_without_a_useful_upper_bound_reads_lower_or_more():
    from workbench.report.markup import with_interval

    # CPA of a channel whose credited conversions can be near zero: spend / ~0 explodes.
    assert "(12 or more)" in with_interval(40.0, 12.0, 4.9e19)
    assert "(12 to 90)" in with_interval(40.0, 12.0, 90.0)


def test_numbers_read_as_people_write_them():
    from workbench.report.markup import interval, num, pct, signed, with_interval

    assert num(1234.4) == "1,234"
    assert num(2.25) == "2.2" and num(0.123) == "0.12"
    assert num(4.6e-12) == "0"  # optimiser round-off is zero, not "0.00"
    assert num(float("nan")) == "–" and num(None) == "–"
    assert pct(0.087) == "9%" and signed(-3.0) == "-3" and signed(3.0) == "+3"
    assert interval(1.0, 1.0) == ""  # a point estimate has no interval
    assert with_interval(5, 1, 9) == '5 <span class="iv">(1 to 9)</span>'


def test_report_file_is_readable_by_others(results_dir, tmp_path):
    from workbench.api import report

    path = report(results_dir, tmp_path / "reports")
    assert path.stat().st_mode & 0o777 == 0o644
    assert not list(path.parent.glob(".report.html.*"))  # no temporary file left behind


def test_missing_result_files_leave_sections_that_say_so(tmp_path):
    from workbench.api import report

    folder = tmp_path / "results"
    write_results(standin_clv(), folder / "clv.nc")
    page = report(folder, tmp_path / "out").read_text()
    sections = _sections(page)
    assert "attribution.nc is not in the results" in sections["channels"]
    assert "plan.nc is not in the results" in sections["budget"]
    assert "Mean CLV" in sections["clv"]


def test_no_results_at_all_is_an_input_error(tmp_path):
    from workbench.api import report

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no results found"):
        report(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(InputError, match="not found"):
        report(tmp_path / "nowhere", tmp_path / "out")
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_results_file_without_a_variable_the_report_needs_is_refused_by_name(tmp_path):
    from click.testing import CliRunner

    from workbench.cli import main

    folder = tmp_path / "results"
    folder.mkdir()
    write_results(standin_attribution().drop_vars("heuristic_credit"), folder / "attribution.nc")
    result = CliRunner().invoke(
        main, ["report", "--results", str(folder), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "attribution.nc" in result.output
    assert "lacks heuristic_credit" in result.output
    assert "workbench attribute" in result.output
    assert not (tmp_path / "o" / "report.html").exists()


def test_cli_report_exits_2_on_an_empty_results_folder(tmp_path):
    from click.testing import CliRunner

    from workbench.cli import main

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        main, ["report", "--results", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "no results found" in result.output


def test_dollar_signs_in_channel_names_do_not_break_plots(tmp_path):
    from workbench.api import report

    channels = ["paid $ search", "$x$", "tv"]
    folder = tmp_path / "results"
    write_results(standin_attribution(channels=channels), folder / "attribution.nc")
    write_results(standin_plan(channels=channels), folder / "plan.nc")
    page = report(folder, tmp_path / "out").read_text()
    assert "paid $ search" in page


# --- the demo-like report in a real browser -----------------------------------------------------

#: The simulated channel renamed to the hostile name before attribution.
RENAMED_CHANNEL = "display"


def _pipeline_results(folder) -> None:
    """Results of the real pipeline at the notebooks' small size (simulate -> attribute -> clv
    -> plan, as the demo runs it), with one simulated channel renamed to ``EVIL``."""
    from workbench.notebooks import ensure_inputs, ensure_results

    data = folder / "data"
    paths = ensure_inputs(data, small=True, seed=3)
    rename_channel(paths["touchpoints"], RENAMED_CHANNEL, EVIL)
    rename_channel(paths["spend"], RENAMED_CHANNEL, EVIL)
    ensure_results(data, folder / "results", small=True, seed=3)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from workbench.api import report

    folder = tmp_path_factory.mktemp("demo")
    _pipeline_results(folder)
    return report(folder / "results", folder / "reports")


@pytest.mark.browser
@pytest.mark.slow
def test_demo_report_in_headless_chromium_shows_sections_and_hostile_names_as_text(demo_report):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    path = demo_report
    url = path.resolve().as_uri()
    dialogs, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            ids = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
            headings = page.locator("h2").all_inner_texts()
            # The hostile channel name is a text node, verbatim, in the rendered page.
            text_nodes = page.evaluate(COUNT_TEXT_NODES, EVIL)
            scripts = page.locator("script").count()
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            page.emulate_media(media="print")
            nav_printed = page.locator("nav").is_visible()
        finally:
            browser.close()
    assert list(SECTION_IDS) == ids
    assert "Executive summary" in headings and "Model diagnostics" in headings
    assert text_nodes >= 2  # channel table and at least one more place
    assert scripts == 0 and dialogs == []
    assert requests and all(u == url or u.startswith("data:") for u in requests), requests
    assert widths and all(w > 0 for w in widths)  # every inline figure decodes
    assert not nav_printed  # print stylesheet applies
