"""NPS with a Dirichlet-multinomial posterior: known answers on a hand-computed table, the exact
Dirichlet as the peer, grouping by month, and bad survey input (one line, exit code 2)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench import api
from workbench.cli import main
from workbench.store import read_results

# Five promoters (10, 10, 9, 9, 9) in January; two passives (8, 7) and two detractors (6, 2) in
# February. Posterior with the uniform prior: Dirichlet(1 + 5, 1 + 2, 1 + 2) = Dirichlet(6, 3, 3).
SCORES = [10, 10, 9, 9, 9, 8, 7, 6, 2]
TIMES = ["2024-01-05", "2024-01-09", "2024-01-10", "2024-01-20", "2024-01-31T23:00:00"] + [
    "2024-02-01",
    "2024-02-03",
    "2024-02-14",
    "2024-02-28",
]
ALPHA = np.array([6.0, 3.0, 3.0])


def _surveys(scores=SCORES, times=TIMES, ids=None) -> pd.DataFrame:
    ids = ids or [f"c{i}" for i in range(1, len(scores) + 1)]
    return pd.DataFrame({"customer_id": ids, "timestamp": times, "score": scores})


def _nps_sd(alpha: np.ndarray) -> float:
    """Exact sd of 100 (theta_p - theta_d) under Dirichlet(alpha)."""
    a0 = alpha.sum()
    ap, ad = alpha[0], alpha[2]
    var = (ap * (a0 - ap) + ad * (a0 - ad) + 2 * ap * ad) / (a0**2 * (a0 + 1))
    return 100.0 * np.sqrt(var)


def test_posterior_mean_is_the_conjugate_dirichlet_mean_on_a_hand_computed_table():
    ds = api.cx(_surveys(), draws=20_000, seed=3)
    assert ds["respondents"].sel(group=["promoter", "passive", "detractor"]).values.tolist() == [
        5,
        2,
        2,
    ]
    # 100 (n_p - n_d) / (N + 3) = 100 (5 - 2) / 12 = 25 points.
    mc_error = _nps_sd(ALPHA) / np.sqrt(20_000)
    assert float(ds["nps"].mean()) == pytest.approx(25.0, abs=4 * mc_error)
    shares = ds["nps_share"].mean("draw").sel(group=["promoter", "passive", "detractor"])
    np.testing.assert_allclose(shares.values, ALPHA / ALPHA.sum(), atol=0.01)


def test_interval_matches_a_large_monte_carlo_of_the_exact_dirichlet():
    ds = api.cx(_surveys(), seed=5)
    exact = np.random.default_rng(11).dirichlet(ALPHA, size=1_000_000)
    exact_nps = 100 * (exact[:, 0] - exact[:, 2])
    ours = np.quantile(ds["nps"].values, INTERVAL_QUANTILES)
    peer = np.quantile(exact_nps, INTERVAL_QUANTILES)
    # The 5% and 95% quantiles of 4,000 draws have a Monte Carlo error of about 0.035 sd.
    np.testing.assert_allclose(ours, peer, atol=0.15 * _nps_sd(ALPHA))
    assert ds.attrs["interval"] == 0.9
    assert -100 <= ds["nps"].min() and ds["nps"].max() <= 100


def test_nps_by_month_counts_each_answer_in_its_calendar_month():
    ds = api.cx(_surveys(), seed=1)
    assert ds["month"].values.tolist() == ["2024-01", "2024-02"]
    counts = ds["respondents_by_month"].sel(group=["promoter", "passive", "detractor"])
    assert counts.values.tolist() == [[5, 0, 0], [0, 2, 2]]
    means = ds["nps_by_month"].mean("draw")
    # Dirichlet(6, 1, 1): 100 (6 - 1) / 8 = 62.5; Dirichlet(1, 3, 3): 100 (1 - 3) / 7 = -28.6.
    assert float(means.sel(month="2024-01")) == pytest.approx(62.5, abs=2.0)
    assert float(means.sel(month="2024-02")) == pytest.approx(-200 / 7, abs=2.0)


def test_same_seed_same_draws_and_the_file_carries_provenance(tmp_path, tmp_inputs):
    path = tmp_inputs("surveys", _surveys())
    a = api.cx(str(path), seed=2, out=tmp_path / "cx.nc")
    b = api.cx(str(path), seed=2)
    np.testing.assert_array_equal(a["nps"].values, b["nps"].values)
    stored = read_results(tmp_path / "cx.nc")
    assert (
        stored.attrs["inputs"]["surveys"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert stored.attrs["row_counts"]["surveys"] == len(SCORES)
    assert stored.attrs["settings"]["prior_concentration"] == 1.0


def test_surveys_of_customers_not_in_transactions_are_reported_not_fatal(tmp_inputs, tmp_path):
    surveys = tmp_inputs("surveys", _surveys())
    known = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(1, 8)],  # c8 and c9 never bought
            "timestamp": "2024-01-01",
            "amount": 10.0,
        }
    )
    transactions = tmp_inputs("transactions", known)
    out = tmp_path / "cx.nc"
    result = CliRunner().invoke(
        main,
        ["cx", "--surveys", str(surveys), "--transactions", str(transactions), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    note = read_results(out).attrs["data_quality"]
    assert note["checked_against"] == "transactions"
    assert note["respondents_not_in_customers"] == 2
    assert note["respondents_not_in_customers_examples"] == ["c8", "c9"]


@pytest.mark.parametrize(
    ("bad", "shown"),
    [(11, "'11'"), (7.5, "'7.5'"), ("great", "'great'"), (-1, "'-1'")],
)
def test_a_score_that_is_not_an_integer_from_0_to_10_is_one_line_and_exit_2(
    tmp_inputs, tmp_path, bad, shown
):
    scores = list(SCORES)
    scores[2] = bad
    surveys = tmp_inputs("surveys", _surveys(scores=scores))
    out = tmp_path / "cx.nc"
    out.write_bytes(b"earlier result")
    result = CliRunner().invoke(main, ["cx", "--surveys", str(surveys), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "column 'score'" in lines[0] and "row 3" in lines[0]
    assert f"score {shown} is not an integer from 0 to 10" in lines[0]
    assert out.read_bytes() == b"earlier result"


def test_a_missing_score_column_names_the_file_and_the_column(tmp_inputs):
    surveys = tmp_inputs("surveys", _surveys().rename(columns={"score": "nps"}))
    result = CliRunner().invoke(main, ["cx", "--surveys", str(surveys)])
    assert result.exit_code == 2
    assert "column 'score'" in result.output and "required column is missing" in result.output


def test_nps_by_the_channel_where_the_survey_was_answered(tmp_inputs):
    frame = _surveys().assign(channel=["app"] * 5 + ["email"] * 3 + [""])
    ds = api.cx(str(tmp_inputs("surveys", frame)), seed=1)
    counts = ds["respondents_by_survey_channel"].sel(group=["promoter", "passive", "detractor"])
    # The answer without a channel counts overall only.
    assert ds["survey_channel"].values.tolist() == ["app", "email"]
    assert counts.values.tolist() == [[5, 0, 0], [0, 2, 1]]
    assert int(ds["respondents"].sum()) == len(SCORES)
