"""Runs PyMC-Marketing's MMM on a media world's files (run by the bench virtualenv's Python,
``.venv-bench``, never imported by the package): its documented defaults (geometric adstock
l_max 8, logistic saturation, yearly seasonality of order 2, the controls, PyMC's sampler
defaults), optionally with the lift test through ``add_lift_test_measurements``.

Usage: python bench/pymc_marketing_mmm.py DIR OUT.json [--lift-test] [--seed N]

The lift test row (channel, start, end, incremental_conversions, standard_error) is given to
PyMC-Marketing in its own terms (a change on the saturation curve per period): x = the channel's
mean weekly spend in the window, delta_x = -x (the hold-out), delta_y = -incremental / weeks,
sigma = standard_error / weeks.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd


def main() -> None:
    folder, out = sys.argv[1], sys.argv[2]
    lift = "--lift-test" in sys.argv
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    start = time.perf_counter()
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    spend = pd.read_csv(f"{folder}/spend.csv", parse_dates=["period_start"])
    outcomes = pd.read_csv(f"{folder}/outcomes.csv", parse_dates=["period_start"])
    controls = pd.read_csv(f"{folder}/controls.csv", parse_dates=["period_start"])
    wide = spend.pivot(index="period_start", columns="channel", values="spend").reset_index()
    channels = [c for c in wide.columns if c != "period_start"]
    X = wide.merge(controls, on="period_start").rename(columns={"period_start": "date"})
    y = outcomes.set_index("period_start").loc[X["date"], "conversions"].to_numpy()
    control_columns = [c for c in controls.columns if c != "period_start"]
    mmm = MMM(
        date_column="date",
        channel_columns=channels,
        control_columns=control_columns,
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )
    if lift:
        tests = pd.read_csv(f"{folder}/experiments.csv", parse_dates=["start", "end"])
        mmm.build_model(X, pd.Series(y))
        rows = []
        for t in tests.itertuples(index=False):
            window = (X["date"] >= t.start) & (X["date"] <= t.end)
            weeks = int(window.sum())
            x = float(X.loc[window, t.channel].mean())
            rows.append(
                {
                    "channel": t.channel,
                    "x": x,
                    "delta_x": -x,
                    "delta_y": -t.incremental_conversions / weeks,
                    "sigma": t.standard_error / weeks,
                }
            )
        mmm.add_lift_test_measurements(pd.DataFrame(rows))
    mmm.fit(X, pd.Series(y), progressbar=False, random_seed=seed)
    contrib = mmm.compute_channel_contribution_original_scale()  # (chain, draw, date, channel)
    total = contrib.sum("date")
    spent = wide[channels].sum().to_numpy()
    roi = total / xr_like(total, spent)
    result = {
        "seconds": time.perf_counter() - start,
        "channels": channels,
        "roi_mean": roi.mean(("chain", "draw")).values.tolist(),
        "roi_q05": roi.quantile(0.05, ("chain", "draw")).values.tolist(),
        "roi_q95": roi.quantile(0.95, ("chain", "draw")).values.tolist(),
        "contribution_q05": total.quantile(0.05, ("chain", "draw")).values.tolist(),
        "contribution_q95": total.quantile(0.95, ("chain", "draw")).values.tolist(),
        "divergences": int(mmm.idata.sample_stats["diverging"].sum()),
        "version": __import__("pymc_marketing").__version__,
    }
    with open(out, "w") as fh:
        json.dump(result, fh)


def xr_like(da, values: np.ndarray):
    import xarray as xr

    return xr.DataArray(values, dims=("channel",), coords={"channel": da["channel"].values})


if __name__ == "__main__":
    main()
