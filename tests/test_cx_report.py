"""The report's customer-experience section: shown when cx.nc is in the results folder, with the
NPS by channel, value by group and funnel tables, one executive-summary sentence, and every
data-derived string escaped."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import api
from workbench.report.results import RESULT_FILES
from workbench.simulate import simulate

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def sim():
    return simulate(users=8_000, weeks=8, seed=4)


def _touches() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b"],
            "timestamp": ["2024-04-01", "2024-04-03", "2024-04-02"],
            "channel": [HOSTILE, "search", "search"],
            "stage": ["awareness", "conversion", "awareness"],
        }
    )


def _html(tmp_path, sim, with_cx: bool = True) -> str:
    results = tmp_path / "results"
    transactions = tmp_path / "transactions.parquet"
    sim.transactions.to_parquet(transactions)
    calibration_end, holdout_end = api.calibration_split(transactions)
    api.clv(
        transactions,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        compare_models=False,
        out=results / "clv.nc",
    )
    if with_cx:
        ids = sim.conversions["user_id"].astype(str).to_numpy()
        channels = [HOSTILE if i % 2 else "search" for i in range(len(ids))]
        api.cx(
            sim.experience.surveys,
            touchpoints=_touches(),
            clv=results / "clv.nc",
            customers=pd.DataFrame({"customer_id": ids, "channel": channels}),
            out=results / RESULT_FILES["cx"],
        )
    return api.report(results, tmp_path / "reports").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report_html(sim, tmp_path_factory) -> str:
    return _html(tmp_path_factory.mktemp("cx_report"), sim)


def test_the_section_shows_nps_value_and_funnel_and_escapes_data(report_html, sim):
    html = report_html
    section = html[html.index('<section id="cx">') :]
    section = section[: section.index("</section>")]
    for heading in ("NPS by acquisition channel", "Customer value by NPS group", "Journey stages"):
        assert heading in section
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    scores = sim.experience.surveys["score"]
    promoters, detractors = (scores >= 9).mean(), (scores <= 6).mean()
    row = f"<td class=num>{100 * promoters:.0f}%</td><td class=num>{100 * detractors:.0f}%</td>"
    assert row in section


def test_the_executive_summary_gets_one_nps_sentence(report_html, sim):
    html = report_html
    summary = html[html.index('<section id="summary">') :]
    summary = summary[: summary.index("</section>")]
    assert summary.count("Net Promoter Score is") == 1
    answers = len(sim.experience.surveys)
    assert f"{answers} survey answers" in summary and "more than a detractor" in summary


def test_no_section_without_cx_results(tmp_path, sim):
    html = _html(tmp_path, sim, with_cx=False)
    assert '<section id="cx">' not in html and "Net Promoter Score" not in html
