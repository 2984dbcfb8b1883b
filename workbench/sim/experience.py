"""Customer experience: NPS survey answers driven by each customer's latent engagement, and
stage-tagged touches (awareness -> consideration -> conversion -> retention -> advocacy).

Engagement is not a new draw: it is read off the customer's BG/NBD latent purchase rate lambda
(per week) and dropout probability p, which also generate their repeat purchases
(:mod:`workbench.sim.purchases`), so engaged customers both buy more and recommend more:
1. engagement z = (log(lambda / p) - ENGAGEMENT_CENTRE) / ENGAGEMENT_SCALE (log(lambda / p) is the
   log of the expected purchases over a lifetime times the rate; about standard normal);
2. a customer answers the one survey sent SURVEY_DELAY_DAYS after their first order with
   probability sigmoid(RESPONSE_INTERCEPT + RESPONSE_SLOPE z), so answers over-represent
   engaged customers (a biased sample, as in real surveys);
3. the score is floor(y + 1/2) clipped to 0..10, y ~ Normal(SCORE_MEAN + SCORE_SLOPE z,
   SCORE_NOISE), so P(promoter) = P(y >= 8.5) and P(detractor) = P(y < 6.5) exactly.

Every draw comes from its own generator (stream STREAM_SURVEYS), so the four contract tables of
a seed are the same with or without this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from workbench.sim.purchases import Purchases
from workbench.sim.scenarios import CLV_HORIZON_WEEKS, GammaGamma

ENGAGEMENT_CENTRE = -0.5
ENGAGEMENT_SCALE = 1.6
RESPONSE_INTERCEPT = -1.0
RESPONSE_SLOPE = 0.8
SCORE_MEAN = 7.6
SCORE_SLOPE = 1.3
SCORE_NOISE = 1.6
#: Days after the first order when the survey is answered: uniform in this range.
SURVEY_DELAY_DAYS = (7.0, 35.0)
#: NPS groups by score: promoters 9-10, passives 7-8, detractors 0-6.
PROMOTER_MIN, PASSIVE_MIN = 9, 7

#: Journey stages in order, and the stage of each simulated channel's touches.
STAGES = ("awareness", "consideration", "conversion", "retention", "advocacy")
CHANNEL_STAGES = {
    "call_centre": "consideration",
    "direct_mail": "consideration",
    "display": "awareness",
    "email": "consideration",
    "paid_search": "consideration",
    "social": "awareness",
}
#: Channel names of the stage touches that are events rather than marketing touches.
RETENTION_CHANNEL = "repeat_purchase"
ADVOCACY_CHANNEL = "nps_survey"


@dataclass
class Experience:
    """Survey answers, stage-tagged touches, the stage map and the truth behind them."""

    surveys: pd.DataFrame  # customer_id, timestamp, score
    stage_touches: pd.DataFrame  # user_id, timestamp, channel, stage
    stages: dict[str, Any]  # {"stages": [...], "channels": {channel: stage}}
    truth: dict[str, Any]


def engagement(buys: Purchases) -> np.ndarray:
    """Latent engagement z (customer,) from the BG/NBD draws (module docstring, step 1)."""
    return (np.log(buys.rate / buys.dropout) - ENGAGEMENT_CENTRE) / ENGAGEMENT_SCALE


def expected_value(buys: Purchases, gamma_gamma: GammaGamma, horizon_weeks: float) -> np.ndarray:
    """Each customer's expected undiscounted value over the horizon given their own lambda, p
    and nu: (p_gg / nu) (1 + E[X(t) | lambda, p]), E[X(t) | lambda, p] = (1 - e^(-lambda p t)) / p
    (Fader, Hardie & Lee 2005, the individual-level expectation of the BG/NBD)."""
    lam, p = buys.rate, buys.dropout
    repeats = -np.expm1(-lam * p * horizon_weeks) / p
    return gamma_gamma.p / buys.order_rate * (1.0 + repeats)


def simulate_experience(
    buys: Purchases,
    first_time: np.ndarray,
    acquisition_labels: np.ndarray,
    customer_ids: pd.Series,
    touch_frame: pd.DataFrame,
    gamma_gamma: GammaGamma,
    rng: np.random.Generator,
    to_timestamps,
) -> Experience:
    """Surveys and stage touches for the customers of ``buys`` (index = customer).

    ``first_time`` (days) and ``acquisition_labels`` (channel or 'organic') per customer,
    ``customer_ids`` their ids, ``touch_frame`` the written touchpoints, ``to_timestamps`` the
    simulator's days -> datetime64 conversion."""
    n = len(first_time)
    z = engagement(buys) if n else np.empty(0)
    p_respond = expit(RESPONSE_INTERCEPT + RESPONSE_SLOPE * z)
    mu = SCORE_MEAN + SCORE_SLOPE * z
    p_promoter = norm.sf((PROMOTER_MIN - 0.5 - mu) / SCORE_NOISE)
    p_detractor = norm.cdf((PASSIVE_MIN - 0.5 - mu) / SCORE_NOISE)

    answered = rng.random(n) < p_respond
    delay = rng.uniform(*SURVEY_DELAY_DAYS, size=n)
    y = rng.normal(mu, SCORE_NOISE)
    score = np.clip(np.floor(y + 0.5), 0, 10).astype(np.int64)
    who = np.flatnonzero(answered)
    when = first_time[who] + delay[who]
    order = np.lexsort((who, when))
    who, when = who[order], when[order]
    surveys = pd.DataFrame(
        {
            "customer_id": customer_ids.iloc[who].reset_index(drop=True),
            "timestamp": to_timestamps(when),
            "score": score[who],
        }
    )

    value = expected_value(buys, gamma_gamma, CLV_HORIZON_WEEKS) if n else np.empty(0)
    truth = _truth(acquisition_labels, p_respond, p_promoter, p_detractor, value)
    truth["respondents"] = len(who)
    stage_touches = _stage_touches(
        buys,
        first_time,
        acquisition_labels,
        customer_ids,
        touch_frame,
        who,
        when,
        score,
        to_timestamps,
    )
    stages = {"stages": list(STAGES), "channels": dict(CHANNEL_STAGES)}
    return Experience(surveys, stage_touches, stages, truth)


def _nps(weight: np.ndarray, p_promoter: np.ndarray, p_detractor: np.ndarray) -> float | None:
    total = weight.sum()
    if total <= 0:
        return None
    return float(100.0 * (weight @ (p_promoter - p_detractor)) / total)


def _truth(labels, p_respond, p_promoter, p_detractor, value) -> dict[str, Any]:
    """Expected NPS of the respondents (weights P(answer)) and of all customers (weights 1),
    overall and by acquisition label; expected value per NPS group among respondents."""
    labels = np.asarray(labels)
    ones = np.ones(len(labels))
    p_passive = 1.0 - p_promoter - p_detractor
    by_label: dict[str, dict[str, Any]] = {}
    for lab in sorted(set(labels.tolist())):
        m = labels == lab
        by_label[lab] = {
            "customers": int(m.sum()),
            "response_rate": float(p_respond[m].mean()),
            "nps_respondents": _nps(p_respond[m], p_promoter[m], p_detractor[m]),
            "nps_all_customers": _nps(ones[m], p_promoter[m], p_detractor[m]),
        }
    groups = {"promoter": p_promoter, "passive": p_passive, "detractor": p_detractor}
    value_by_group = {
        g: float((p_respond * p) @ value / (p_respond * p).sum()) if len(value) else None
        for g, p in groups.items()
    }
    return {
        "engagement_model": {
            "engagement": "(log(rate / dropout) - centre) / scale",
            "centre": ENGAGEMENT_CENTRE,
            "scale": ENGAGEMENT_SCALE,
            "p_answer": "sigmoid(response_intercept + response_slope * engagement)",
            "response_intercept": RESPONSE_INTERCEPT,
            "response_slope": RESPONSE_SLOPE,
            "score": "round(Normal(score_mean + score_slope * engagement, score_noise)), 0..10",
            "score_mean": SCORE_MEAN,
            "score_slope": SCORE_SLOPE,
            "score_noise": SCORE_NOISE,
        },
        "response_rate": float(p_respond.mean()) if len(p_respond) else None,
        "nps_respondents": _nps(p_respond, p_promoter, p_detractor),
        "nps_all_customers": _nps(ones, p_promoter, p_detractor),
        "by_acquisition_channel": by_label,
        "expected_value_52w_by_group": value_by_group,
        "stages": list(STAGES),
        "channel_stages": dict(CHANNEL_STAGES),
    }


def _stage_touches(
    buys, first_time, labels, customer_ids, touch_frame, who, when, score, to_timestamps
) -> pd.DataFrame:
    """The touchpoints tagged by their channel's stage, plus one touch per customer at the
    conversion (channel: acquisition label), at the first repeat purchase (retention) and at a
    promoter's survey answer (advocacy)."""
    marketing = touch_frame.assign(stage=touch_frame["channel"].map(CHANNEL_STAGES))
    is_first = np.diff(buys.customer, prepend=-1) != 0
    second = np.flatnonzero(~is_first)
    repeat = second[np.diff(buys.customer[second], prepend=-1) != 0]  # first repeat each
    promoters = score[who] >= PROMOTER_MIN
    events = [
        (np.arange(len(first_time)), first_time, np.asarray(labels, dtype=object), "conversion"),
        (buys.customer[repeat], buys.time[repeat], RETENTION_CHANNEL, "retention"),
        (who[promoters], when[promoters], ADVOCACY_CHANNEL, "advocacy"),
    ]
    frames = [marketing]
    for cust, t, channel, stage in events:
        frames.append(
            pd.DataFrame(
                {
                    "user_id": customer_ids.iloc[cust].to_numpy(),
                    "timestamp": to_timestamps(t),
                    "channel": channel,
                    "stage": stage,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    for col in ("user_id", "channel", "stage"):
        out[col] = out[col].astype(pd.StringDtype("pyarrow", na_value=np.nan))
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
