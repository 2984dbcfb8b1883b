"""The report's A/B test section: present exactly when the results folder holds experiment.nc,
with the arms' numbers, the checks (a sample-ratio mismatch warned about first) and escaped
names; and the experiments notebook runs headless on small data."""

from __future__ import annotations

import html
import re

import pytest

from workbench import api
from workbench.report.render import render_html
from workbench.report.results import load_results
from workbench.sim.abtest import TrueArm, contaminate, holdout_world, simulate_test
from workbench.store import write_results

EVIL = "<b>bold</b> & co"


def _section_text(page: str) -> str:
    match = re.search(r'<section id="experiment">(.*?)</section>', page, flags=re.S)
    assert match, "no experiment section"
    without_figures = re.sub(r'src="data:[^"]+"', "", match.group(1))
    return html.unescape(re.sub(r"<[^>]+>", " ", without_figures))


def _experiment(tmp_path, *, lost: float = 0.0):
    world = simulate_test(
        [TrueArm("control", 0.05), TrueArm(EVIL, 0.07)],
        30_000,
        seed=4,
        lost_share={EVIL: lost} if lost else None,
    )
    world = contaminate(world, several_arms=12, converted_before=7, unassigned=3)
    ds = api.experiment(
        world.assignments, world.conversions, transactions=world.transactions, draws=500
    )
    write_results(ds, tmp_path / "experiment.nc")
    return ds


def test_section_shows_each_arm_with_its_lift_and_the_checks(tmp_path):
    ds = _experiment(tmp_path)
    page = render_html(load_results(tmp_path))
    assert EVIL not in page  # the arm name is escaped
    text = " ".join(_section_text(page).split())
    assert "A/B test" in text
    assert "compared with the control arm control" in text
    users = int(ds["n_users"].sel(arm=EVIL))
    assert f"{EVIL} {users:,}" in text
    p = float(ds["p_beats_control"].sel(arm=EVIL))
    assert f"{100 * p:.1f}%" in text
    lift = float(ds["lift"].sel(arm=EVIL).mean())
    assert f"{100 * lift:.1f}%" in text
    assert "Users assigned to more than one arm (left out of every arm) 12" in text
    assert "Conversions before the user's assignment (not counted) 7" in text
    assert "Conversions of users not in the test (not counted) 3" in text
    assert "agree with the planned split" in text
    assert "Revenue per user" in text
    assert '<img alt="Lift of each arm over the control' in page


def test_a_sample_ratio_mismatch_is_the_first_thing_the_section_says(tmp_path):
    ds = _experiment(tmp_path, lost=0.1)
    assert ds.attrs["srm_mismatch"] == 1
    text = " ".join(_section_text(render_html(load_results(tmp_path))).split())
    assert text.startswith("A/B test Sample-ratio mismatch.")
    assert "do not act on the results below" in text


def test_a_channel_hold_out_is_shown_as_a_lift_test(tmp_path):
    world = holdout_world(users=5_000, seed=2)
    ds = api.experiment(
        world.assignments, world.conversions, channel="search", split="holdout=1,exposed=4"
    )
    write_results(ds, tmp_path / "experiment.nc")
    text = " ".join(_section_text(render_html(load_results(tmp_path))).split())
    row = ds.attrs["lift_test"]
    assert (
        f"A hold-out of search: the channel caused {row['incremental_conversions']:,.0f} "
        f"conversions (standard error {row['standard_error']:,.0f}) in a market of 5,000 users"
    ) in text
    assert "compared with the control arm holdout" in text


def test_no_section_without_experiment_nc(tmp_path):
    page = render_html(load_results(tmp_path))
    assert 'id="experiment"' not in page


@pytest.mark.slow
def test_experiments_notebook_runs_headless_on_small_data(tmp_path):
    from workbench.notebooks import run_notebooks

    written = run_notebooks(tmp_path, small=True, names=("experiments",))
    assert [p.name for p in written] == ["experiments.ipynb", "experiments.html"]
    assert (tmp_path / "results" / "experiment.nc").is_file()
