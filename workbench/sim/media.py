"""Weekly media-mix worlds with known truth: spend per channel, conversions, controls, and the
true contribution and ROI of every channel (optionally per geo, optionally a lift test).

The simulator's own equations (numpy, independent of the model package), per geo g, week t:

    conversions_gt = baseline_gt * (1 + confounder_t) + sum_c media_gct + noise_gt
    media_gct      = effect_gc * s_c(carry_c(spend_gc)_t)
    baseline_gt    = level_g * (1 + trend_t + seasonality_t + controls_t)

carry-over is geometric, or delayed-peak when ``peak_lag > 0``; s is logistic
(tanh(spend / (2 * half)) ... scaled so that a typical active week reaches ``typical_share`` of
the maximum) or Hill. True contribution = sum over the data period of media_gct (spend before the
data period is zero; carry-over past the end is not counted); true ROI = contribution / spend.
A lift test's true value = conversions in its window caused by the channel's spend in the window.

Spend patterns as real plans have them: ``flighted`` (TV, radio: bursts of weeks on, weeks off),
``always_on`` (search, social: every week, following seasonality), ``sparse`` (print: single
weeks, long zero stretches), ``bursts`` (out-of-home: a few month-long campaigns a year),
``demand`` (the confounded world's search: spend follows an unobserved demand that also lifts the
baseline).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import InputError

START_DATE = "2023-01-02"  # a Monday
WEEKS_PER_YEAR = 365.25 / 7
#: Lift tests measure the truth with this relative standard error.
LIFT_TEST_RELATIVE_SE = 0.10


@dataclass(frozen=True)
class TrueChannel:
    """One channel's truth. ``spend``: typical active-week spend (currency); ``pattern``: how it
    is bought; ``alpha``: weekly carry-over rate; ``peak_lag``: weeks to peak effect (0:
    geometric); ``saturation``: logistic or hill; ``half``: spend (carried over) giving half the
    maximum effect; ``slope``: Hill slope; ``max_effect``: conversions per week at saturation."""

    name: str
    spend: float
    pattern: str
    alpha: float
    max_effect: float
    half: float
    peak_lag: float = 0.0
    saturation: str = "logistic"
    slope: float = 1.5


@dataclass(frozen=True)
class MediaWorldSpec:
    """A world: channels, weeks, baseline (weekly conversions), noise and baseline drivers."""

    name: str
    channels: tuple[TrueChannel, ...]
    weeks: int = 156
    level: float = 5000.0
    noise: float = 0.03  # sd as a share of the baseline
    trend_per_year: float = 0.05
    level_shift: float = 0.0  # a step change of the baseline at 60% of the data, share
    seasonality: tuple[float, float] = (0.10, 0.03)  # first and second yearly harmonic
    price_effect: float = -0.8  # elasticity of conversions to the price index
    promo_effect: float = 0.06
    confounded: str | None = None  # channel whose spend follows unobserved demand
    demand_sd: float = 0.0  # baseline share moved by one sd of the unobserved demand
    lift_test_weeks: tuple[int, int] | None = None  # [first, last] week of the hold-out
    description: str = ""
    extra: dict = field(default_factory=dict)


def _ch(*args, **kw) -> TrueChannel:
    return TrueChannel(*args, **kw)


WORLDS: dict[str, MediaWorldSpec] = {
    w.name: w
    for w in (
        MediaWorldSpec(
            "retail",
            (
                _ch("tv", 60_000, "flighted", 0.6, 900, 50_000),
                _ch("radio", 12_000, "flighted", 0.4, 220, 10_000),
                _ch("print", 6_000, "sparse", 0.3, 90, 5_000),
                _ch("ooh", 20_000, "bursts", 0.5, 200, 18_000),
                _ch("search", 15_000, "always_on", 0.1, 700, 14_000),
                _ch("social", 10_000, "always_on", 0.25, 260, 9_000),
                _ch("display", 6_000, "always_on", 0.2, 110, 7_000),
                _ch("video", 14_000, "flighted", 0.35, 230, 12_000),
            ),
            description="3 years, 8 channels, logistic saturation, geometric carry-over",
        ),
        MediaWorldSpec(
            "brand",
            (
                _ch(
                    "tv",
                    80_000,
                    "flighted",
                    0.7,
                    1200,
                    60_000,
                    peak_lag=2,
                    saturation="hill",
                    slope=2.0,
                ),
                _ch("radio", 10_000, "flighted", 0.5, 180, 8_000, peak_lag=1, saturation="hill"),
                _ch("print", 5_000, "sparse", 0.4, 70, 4_000, saturation="hill", slope=1.2),
                _ch("ooh", 25_000, "bursts", 0.6, 260, 20_000, peak_lag=1, saturation="hill"),
                _ch("search", 20_000, "always_on", 0.1, 600, 25_000, saturation="hill", slope=1.0),
                _ch("social", 8_000, "always_on", 0.3, 160, 8_000, saturation="hill"),
            ),
            weeks=130,
            level=4000.0,
            noise=0.035,
            trend_per_year=0.08,
            description="2.5 years, 6 channels, Hill saturation and delayed peaks (not the "
            "model's defaults)",
        ),
        MediaWorldSpec(
            "big_baseline",
            (
                _ch("tv", 50_000, "flighted", 0.55, 1400, 45_000),
                _ch("radio", 8_000, "flighted", 0.4, 280, 7_000),
                _ch("print", 4_000, "sparse", 0.3, 140, 3_500),
                _ch("ooh", 15_000, "bursts", 0.5, 300, 14_000),
                _ch("search", 12_000, "always_on", 0.1, 840, 12_000),
                _ch("social", 9_000, "always_on", 0.2, 360, 8_000),
                _ch("display", 3_000, "always_on", 0.2, 80, 3_000),
            ),
            weeks=156,
            level=10_000.0,
            noise=0.015,
            trend_per_year=0.03,
            level_shift=0.06,
            seasonality=(0.15, 0.05),
            description="3 years, 7 channels, a KPI with a large baseline (media ~10%), a "
            "level shift, strong seasonality, price and promotions",
        ),
        MediaWorldSpec(
            "confounded",
            (
                _ch("tv", 60_000, "flighted", 0.6, 900, 50_000),
                _ch("radio", 12_000, "flighted", 0.4, 220, 10_000),
                _ch("print", 6_000, "sparse", 0.3, 90, 5_000),
                _ch("ooh", 20_000, "bursts", 0.5, 200, 18_000),
                _ch("search", 15_000, "demand", 0.1, 350, 14_000),
                _ch("social", 10_000, "always_on", 0.25, 260, 9_000),
            ),
            confounded="search",
            demand_sd=0.06,
            lift_test_weeks=(70, 77),
            description="3 years, 6 channels; search is bought when unobserved demand is high "
            "(demand also lifts the baseline); an 8-week search hold-out measures its true lift",
        ),
    )
}


@dataclass
class MediaSimulation:
    """Simulated tables (pandas) and the truth (a JSON-ready dict)."""

    spend: pd.DataFrame
    outcomes: pd.DataFrame
    controls: pd.DataFrame
    experiments: pd.DataFrame | None
    truth: dict


def _spend_pattern(
    ch: TrueChannel, weeks: int, season: np.ndarray, demand: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Weekly spend of one channel (national), currency."""
    on = np.zeros(weeks, dtype=bool)
    if ch.pattern == "flighted":
        t = int(rng.integers(0, 6))
        while t < weeks:
            length = int(rng.integers(3, 7))
            on[t : t + length] = True
            t += length + int(rng.integers(3, 10))
        level = rng.lognormal(0.0, 0.35, weeks)
    elif ch.pattern == "sparse":
        on = rng.random(weeks) < 0.15
        level = rng.lognormal(0.0, 0.4, weeks)
    elif ch.pattern == "bursts":
        for start in np.arange(int(rng.integers(0, 10)), weeks, int(rng.integers(14, 22))):
            on[start : start + 4] = True
        level = rng.lognormal(0.0, 0.2, weeks)
    elif ch.pattern == "always_on":
        on[:] = True
        level = (1 + 1.5 * season) * rng.lognormal(0.0, 0.25, weeks)
    elif ch.pattern == "demand":
        on[:] = True
        level = np.exp(0.45 * demand) * rng.lognormal(0.0, 0.1, weeks)
    else:  # pragma: no cover - a programming error in WORLDS
        raise ValueError(ch.pattern)
    return np.round(np.where(on, ch.spend * level, 0.0), 2)


def carry_over(spend: np.ndarray, alpha: float, peak_lag: float, l_max: int = 13) -> np.ndarray:
    """Normalised geometric (peak_lag 0) or delayed-peak carry-over along the last axis."""
    lags = np.arange(l_max)
    w = alpha ** ((lags - peak_lag) ** 2) if peak_lag > 0 else alpha**lags
    w = w / w.sum()
    out = np.zeros_like(spend, dtype=float)
    n = spend.shape[-1]
    for lag in range(l_max):
        out[..., lag:] += w[lag] * spend[..., : n - lag]
    return out


def true_effect(ch: TrueChannel, spend: np.ndarray, max_effect) -> np.ndarray:
    """Conversions per week caused by ``spend`` (..., week) of one channel."""
    x = carry_over(spend, ch.alpha, ch.peak_lag)
    if ch.saturation == "hill":
        frac = np.where(x > 0, 1 / (1 + (ch.half / np.maximum(x, 1e-12)) ** ch.slope), 0.0)
    else:
        # tanh(x / (2 h) * ln 3) is one half at x = h.
        frac = np.tanh(x / ch.half * np.log(3.0) / 2)
    return np.asarray(max_effect)[..., None] * frac


def simulate_media(world: str = "retail", seed: int = 1, geos: int = 0) -> MediaSimulation:
    """Simulate ``world`` (a key of WORLDS); ``geos`` > 0 splits it into that many geos with
    their own sizes, spend mixes and effects (partially shared), tables then have a ``geo``
    column. The same world, seed and geos give the same tables."""
    if world not in WORLDS:
        raise InputError(f"unknown media world {world!r}; expected one of {', '.join(WORLDS)}")
    spec = WORLDS[world]
    rng = np.random.default_rng(seed)
    weeks, C = spec.weeks, len(spec.channels)
    t = np.arange(weeks) / WEEKS_PER_YEAR
    a1, a2 = spec.seasonality
    season = a1 * np.sin(2 * np.pi * t) + a2 * np.cos(4 * np.pi * t + 1.0)
    demand = np.zeros(weeks)
    for i in range(1, weeks):  # AR(1) with unit stationary sd
        demand[i] = 0.85 * demand[i - 1] + np.sqrt(1 - 0.85**2) * rng.normal()
    price = (
        1
        + 0.03 * np.cumsum(rng.normal(0, 0.3, weeks)) / np.sqrt(weeks)
        + np.where(rng.random(weeks) < 0.1, -0.08, 0.0)
    )
    promo = (rng.random(weeks) < 0.12).astype(float)
    shift = np.where(np.arange(weeks) >= int(0.6 * weeks), spec.level_shift, 0.0)
    relative = (
        spec.trend_per_year * t
        + shift
        + season
        + spec.price_effect * (price - 1)
        + spec.promo_effect * promo
    )
    national = np.stack([_spend_pattern(ch, weeks, season, demand, rng) for ch in spec.channels])

    G = max(geos, 1)
    if geos:
        size = rng.dirichlet(np.full(G, 3.0))
        mix = rng.lognormal(0.0, 0.3, (G, C))
        spend = national[None] * size[:, None, None] * mix[:, :, None]
        spend = np.round(spend * rng.lognormal(0.0, 0.1, spend.shape), 2)
        effect_scale = size[:, None] * mix * rng.lognormal(0.0, 0.15, (G, C))
    else:
        size = np.ones(1)
        spend = national[None]
        effect_scale = np.ones((1, C))
    media = np.stack(
        [
            true_effect(
                ch,
                spend[:, c, :] / effect_scale[:, c, None],
                ch.max_effect * effect_scale[:, c],
            )
            for c, ch in enumerate(spec.channels)
        ],
        axis=1,
    )  # (geo, channel, week)
    baseline = spec.level * size[:, None] * (1 + relative[None])
    confound = 1 + spec.demand_sd * demand
    noise_sd = spec.noise * spec.level * np.sqrt(size)[:, None] * np.ones((1, weeks))
    kpi = baseline * confound[None] + media.sum(axis=1) + rng.normal(0, 1, (G, weeks)) * noise_sd
    kpi = np.round(np.maximum(kpi, 0.0))

    periods = pd.date_range(START_DATE, periods=weeks, freq="7D")
    names = [ch.name for ch in spec.channels]
    geo_names = [f"geo_{g + 1:02d}" for g in range(G)] if geos else [None]
    spend_rows = []
    for g, geo in enumerate(geo_names):
        for c, name in enumerate(names):
            frame = pd.DataFrame({"channel": name, "period_start": periods, "spend": spend[g, c]})
            if geo:
                frame.insert(0, "geo", geo)
            spend_rows.append(frame)
    spend_df = pd.concat(spend_rows, ignore_index=True)
    out_rows = []
    for g, geo in enumerate(geo_names):
        frame = pd.DataFrame({"period_start": periods, "conversions": kpi[g]})
        if geo:
            frame.insert(0, "geo", geo)
        out_rows.append(frame)
    outcomes = pd.concat(out_rows, ignore_index=True)
    controls = pd.DataFrame({"period_start": periods, "price": np.round(price, 4), "promo": promo})

    contribution = media.sum(axis=(0, 2))
    total_spend = spend.sum(axis=(0, 2))
    truth = {
        "world": world,
        "description": spec.description,
        "seed": seed,
        "geos": geos,
        "weeks": weeks,
        "channels": names,
        "contribution": dict(zip(names, contribution.tolist(), strict=True)),
        "spend": dict(zip(names, total_spend.tolist(), strict=True)),
        "roi": dict(zip(names, (contribution / total_spend).tolist(), strict=True)),
        "contribution_over_time": {
            n: media[:, c].sum(axis=0).tolist() for c, n in enumerate(names)
        },
        "baseline_total": float((baseline * confound[None]).sum()),
        "kpi_total": float(kpi.sum()),
        "media_share": float(contribution.sum() / kpi.sum()),
        "parameters": {
            ch.name: {
                "alpha": ch.alpha,
                "peak_lag": ch.peak_lag,
                "saturation": ch.saturation,
                "half": ch.half,
                "slope": ch.slope,
                "max_effect": ch.max_effect,
            }
            for ch in spec.channels
        },
        "confounded": spec.confounded,
    }
    experiments = None
    if spec.lift_test_weeks is not None and spec.confounded:
        c = names.index(spec.confounded)
        first, last = spec.lift_test_weeks
        cf = spend[:, c, :].copy()
        cf[:, first : last + 1] = 0.0
        ch = spec.channels[c]
        # Each geo's curve is in its own spend units (spend / effect scale), as in the data.
        actual = true_effect(
            ch, spend[:, c, :] / effect_scale[:, c, None], ch.max_effect * effect_scale[:, c]
        )
        counter = true_effect(ch, cf / effect_scale[:, c, None], ch.max_effect * effect_scale[:, c])
        true_lift = float((actual - counter)[:, first : last + 1].sum())
        se = LIFT_TEST_RELATIVE_SE * true_lift
        measured = true_lift + rng.normal(0, se)
        experiments = pd.DataFrame(
            {
                "channel": [spec.confounded],
                "start": [periods[first].date().isoformat()],
                "end": [periods[last].date().isoformat()],
                "incremental_conversions": [round(measured, 1)],
                "standard_error": [round(se, 1)],
            }
        )
        truth["lift_tests"] = [
            {
                "channel": spec.confounded,
                "start": periods[first].date().isoformat(),
                "end": periods[last].date().isoformat(),
                "true_incremental_conversions": true_lift,
                "measured": float(measured),
                "standard_error": float(se),
            }
        ]
    return MediaSimulation(spend_df, outcomes, controls, experiments, truth)


def write_media(sim: MediaSimulation, out_dir) -> dict[str, Path]:
    """Write spend.csv, outcomes.csv, controls.csv, experiments.csv (when the world has a lift
    test) and truth.json into ``out_dir``; each file goes to a temporary name and is renamed
    when written. Returns the paths by table name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"spend": sim.spend, "outcomes": sim.outcomes, "controls": sim.controls}
    if sim.experiments is not None:
        tables["experiments"] = sim.experiments
    paths = {}
    for name, frame in tables.items():
        paths[name] = _atomic(out / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
    text = json.dumps(sim.truth, indent=1, sort_keys=True)
    paths["truth"] = _atomic(out / "truth.json", lambda p: Path(p).write_text(text))
    return paths


def _atomic(path: Path, write) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
