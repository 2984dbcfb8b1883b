"""With geos, the media-mix model chooses its carry-over and saturation forms on the national
total (spend and KPI summed over geos) and fits the geo model once with them (issue 13: 50 geos
must fit in under 10 minutes with the defaults)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from attribution.mmm.data import national_total
from workbench import api
from workbench.sim.media import simulate_media


def _cube(values, dims, **coords):
    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords=coords)


def test_the_national_total_sums_spend_and_kpi_and_weights_controls_by_geo_kpi():
    geo, period, channel = ["a", "b"], [0, 1], ["tv", "search"]
    spend = _cube(
        [[[1, 2], [3, 4]], [[10, 20], [30, 40]]],
        ("geo", "period", "channel"),
        geo=geo,
        period=period,
        channel=channel,
    )
    kpi = _cube([[1, 3], [6, 10]], ("geo", "period"), geo=geo, period=period)  # totals 4, 16
    price = _cube(
        [[[2.0], [4.0]], [[7.0], [9.0]]],
        ("geo", "period", "control"),
        geo=geo,
        period=period,
        control=["price"],
    )
    s, y, c = national_total(spend, kpi, price)
    assert s.dims == ("period", "channel") and s.values.tolist() == [[11, 22], [33, 44]]
    assert y.values.tolist() == [7, 13]
    # geo b sells 16 of 20: its price weighs 0.8 in every week
    assert c.sel(control="price").values == pytest.approx([0.2 * 2 + 0.8 * 7, 0.2 * 4 + 0.8 * 9])


def test_national_inputs_and_national_controls_are_left_as_they_are():
    spend = _cube([[1.0], [2.0]], ("period", "channel"), period=[0, 1], channel=["tv"])
    kpi = _cube([5.0, 6.0], ("period",), period=[0, 1])
    assert national_total(spend, kpi, None) == (spend, kpi, None)
    geo_spend = spend.expand_dims(geo=["a", "b"])
    price = _cube([[3.0], [4.0]], ("period", "control"), period=[0, 1], control=["price"])
    _, _, c = national_total(geo_spend, kpi.expand_dims(geo=["a", "b"]), price)
    assert c is price


@pytest.mark.slow
def test_with_geos_the_forms_are_chosen_on_the_national_total():
    """The brand world's TV, radio and out-of-home peak weeks after the spend in every geo: the
    national total must show it (delayed-peak carry-over chosen), the record must say the choice
    was made on the total, and the geo model must be fitted with the chosen form."""
    sim = simulate_media("brand", seed=1, geos=3)
    small = {"draws": 200, "tune": 200, "chains": 2, "seed": 1}
    ds = api.mmm(sim.spend, sim.outcomes, controls=sim.controls, holdout_check=False, **small)
    record = ds.attrs["form_selection"]
    assert record["data"] == "the national total of 3 geos"
    assert record["chosen"].startswith("delayed/") and ds.attrs["adstock"] == "delayed"
    assert ds.sizes["geo"] == 3 and "contribution_geo" in ds
    assert "adstock_theta" in ds  # the delayed form's lag, fitted per channel
    assert set(ds.attrs["stage_seconds"]) == {"form_selection", "fit"}
