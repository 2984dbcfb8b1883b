"""The planner page: one self-contained HTML file where budget planners try splits in the browser.

``workbench report`` writes ``planner.html`` beside ``report.html`` when plan.nc carries the
planner's payload (``planner_*`` variables, :mod:`workbench.planning.payload`). The page embeds
the payload as JSON data and an inline script (``planner.js``) that values any allocation per
posterior draw with the equations of ``workbench plan``: expected conversions and value (first
order + CLV) with 90% intervals, the change against the current plan and P(beats current).

Like the report it makes no request: its Content-Security-Policy allows no fetch at all, inline
data images, inline styles and exactly one script, named by its sha256 hash (no
``'unsafe-inline'`` script, no ``'unsafe-eval'``). Data strings (channel and scenario names)
travel as JSON and reach the page through ``textContent`` only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.report.markup import esc

#: File name of the planner page inside the output folder.
PLANNER_NAME = "planner.html"
TITLE = "Budget planner"
PLANNER_MODE = 0o644
SCRIPT_FILE = Path(__file__).with_name("planner.js")
CSS_FILE = Path(__file__).with_name("planner.css")


def has_payload(plan: xr.Dataset | None) -> bool:
    """Whether plan.nc carries what the planner page needs."""
    from workbench.planning.payload import PREFIX

    return plan is not None and f"{PREFIX}baseline" in plan


def _b64(values: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def _finite(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.nan_to_num(np.asarray(values, float))]


def planner_data(plan: xr.Dataset) -> dict[str, Any]:
    """Everything the page's script reads, as JSON-ready data: channels, current spend,
    presets (every scenario of plan.nc), each channel's response curve (value gained over
    current with the others at current spend: mean and interval) and the model payload."""
    from posterior_tools.settings import INTERVAL_QUANTILES
    from workbench.pipelines.plan import TIE_RTOL
    from workbench.planning.payload import current_spend, payload_from_plan
    from workbench.planning.response import HAZARD_EPS
    from workbench.planning.scenarios import RESERVED_NAMES

    p = payload_from_plan(plan)
    if p is None:
        raise ValueError("plan.nc has no planner payload (planner_* variables)")
    channels = p["channels"]
    current = current_spend(p)
    codes = np.asarray(p["codes"], np.int64)
    code_bytes = 1 if codes.max(initial=0) < 256 else 2
    floats = {
        name: _b64(np.asarray(p[name], float).ravel(), "<f8")
        for name in (
            "baseline",
            "beta",
            "decay",
            "saturation",
            "opening",
            "reach_k",
            "audience_m",
            "audience_k",
            "audience_size",
            "customer_value",
            "synergy",
            "weekly_spend",
            "n_journeys",
            "code_counts",
        )
    }
    mix = np.asarray(p["new_mix"], float)
    new_mix = [
        [[int(j), int(x), float(mix[c, j, x])] for j, x in zip(*np.nonzero(mix[c]), strict=True)]
        for c in range(len(channels))
    ]
    model = {
        "draws": int(np.asarray(p["baseline"]).size),
        "n_total": int(mix.shape[1]),
        "n_weeks": int(np.asarray(p["weekly_spend"]).shape[0]),
        "code_base": int(p["code_base"]),
        "ages_days": _finite(p["ages_days"]),
        "bin_lower": _finite(p["bin_lower"]),
        "bin_width": _finite(p["bin_width"]),
        "pairs": np.asarray(p["pair_channels"], int).reshape(-1, 2).tolist(),
        "clv_baseline": float(p["clv_baseline"]),
        "organic_conversions": float(p["organic_conversions"]),
        "f64": floats,
        "codes": _b64(codes.ravel(), "u1" if code_bytes == 1 else "<u2"),
        "code_bytes": code_bytes,
        "first_channel": _b64(np.asarray(p["first_channel"]).ravel(), "<i2"),
        "new_mix": new_mix,
    }
    presets = [
        {
            "name": str(name),
            "description": str(plan["description"].sel(scenario=name).values),
            "spend": _finite(plan["spend"].sel(scenario=name, channel=channels).values),
        }
        for name in plan["scenario"].values
    ]
    return {
        "channels": channels,
        "current": _finite(current),
        "presets": presets,
        "curves": _curves(plan, channels),
        "model": model,
        "interval": [float(q) for q in INTERVAL_QUANTILES],
        "hazard_eps": HAZARD_EPS,
        "tie_rtol": TIE_RTOL,
        "reserved_names": list(RESERVED_NAMES),
    }


def _curves(plan: xr.Dataset, channels: list[str]) -> list[dict[str, list[float]]]:
    """Per channel: value gained over current spend (per draw, then mean and interval) when
    only that channel's spend moves, on the plan's multiplier grid."""
    from posterior_tools.settings import INTERVAL_QUANTILES

    out = []
    if "response_value" not in plan:
        return [
            {"multiplier": [0.0, 1.0], "mean": [0.0, 0.0], "lo": [0.0, 0.0], "hi": [0.0, 0.0]}
        ] * len(channels)
    for c in channels:
        curve = plan["response_value"].sel(channel=c).transpose("multiplier", "draw")
        gain = curve.values - curve.sel(multiplier=1.0, method="nearest").values[None, :]
        lo, hi = np.quantile(gain, INTERVAL_QUANTILES, axis=1)
        out.append(
            {
                "multiplier": _finite(curve["multiplier"].values),
                "mean": _finite(gain.mean(axis=1)),
                "lo": _finite(lo),
                "hi": _finite(hi),
            }
        )
    return out


def _json_for_script(data: dict[str, Any]) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: no ``<``, ``>`` or
    ``&`` can end the element or start markup."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def script_hash(script: str) -> str:
    """The CSP source of an inline script: ``'sha256-<base64 digest>'``."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def render_planner(
    plan: xr.Dataset, *, source: str = "plan.nc", generated: dt.datetime | None = None
) -> str:
    """The planner page for ``plan`` as one HTML string."""
    from posterior_tools.settings import INTERVAL_QUANTILES
    from workbench import __version__

    data = planner_data(plan)
    script = SCRIPT_FILE.read_text(encoding="utf-8")
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    level = f"{round((INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0]) * 100)}%"
    n_draws = data["model"]["draws"]
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src {script_hash(script)}; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        f"<title>{esc(TITLE)}</title><style>{CSS_FILE.read_text(encoding='utf-8')}</style>"
        "</head><body><main>"
        f"<header><h1>{esc(TITLE)}</h1>"
        "<p>Try a split of the budget: every number below is recomputed in this page from "
        f"{n_draws} posterior draws of the response model of <code>workbench plan</code> "
        f"(generated {esc(when)} from {esc(source)}). Spend and outcomes are totals over the "
        "data window; value is first order + customer lifetime value.</p>"
        + _offline_note(plan)
        + '<p class="screen-only"><a href="report.html">Back to the report</a></p></header>'
        '<noscript><p class="warn">This page computes in the browser: allow its script to '
        "use it.</p></noscript>"
        '<section aria-labelledby="h-setup" class="screen-only"><h2 id="h-setup">Start from</h2>'
        '<div id="presets" role="group" aria-label="Preset allocations"></div>'
        '<div class="bar"><label for="budget">Total budget </label>'
        '<input id="budget" type="number" min="0" step="any">'
        '<span>Planned <output id="planned-total"></output>; '
        '<output id="remaining" aria-live="polite"></output></span></div></section>'
        '<section aria-labelledby="h-results"><h2 id="h-results">Planned against current</h2>'
        f"<table><caption>Means with {level} intervals over the posterior draws</caption>"
        '<thead><tr><th scope="col"></th><th scope="col" class="num">Current plan</th>'
        '<th scope="col" class="num">This plan</th><th scope="col" class="num">Change</th>'
        "</tr></thead><tbody>"
        + _result_row("Conversions", "conv")
        + _result_row("Value (first order + CLV)", "value")
        + "</tbody></table>"
        '<p class="big" aria-live="polite">P(beats current) on value: '
        '<output id="p-beats"></output> <span class="note">(P(more conversions): '
        '<output id="p-more"></output>)</span></p></section>'
        '<section aria-labelledby="h-channels" class="screen-only">'
        '<h2 id="h-channels">Spend per channel</h2><p class="note">Each curve is the value '
        f"gained (mean and {level} interval) as that channel's spend moves while the others "
        "stay at current spend; the dot is the planned spend, the dashed line current spend."
        '</p><div id="channels"></div></section>'
        '<section aria-labelledby="h-export" class="screen-only"><h2 id="h-export">Keep it</h2>'
        '<div class="bar"><label for="scenario-name">Scenario name </label>'
        '<input id="scenario-name" type="text" value="planner" autocomplete="off">'
        '<button id="download" type="button">Download scenario (YAML)</button>'
        '<button id="print" type="button">Print summary</button></div>'
        '<p class="note">The file runs with <code>workbench plan --scenarios FILE</code> '
        "(planned total spend per channel).</p></section>"
        '<section id="print-summary" aria-hidden="true"><h2>Allocation: '
        '<span id="print-name"></span></h2><table><thead><tr><th>Channel</th>'
        '<th class="num">Current spend</th><th class="num">Planned spend</th>'
        '<th class="num">Change</th></tr></thead><tbody id="print-allocation"></tbody></table>'
        "</section>"
        f"<footer>workbench {esc(__version__)}</footer></main>"
        f'<script type="application/json" id="planner-data">{_json_for_script(data)}</script>'
        f"<script>{script}</script></body></html>\n"
    )


def _offline_note(plan: xr.Dataset) -> str:
    """A note naming the channels the media-mix model plans: the page replays the journey
    model only, so their spend stays at the current plan here (plan.nc and the report have
    them)."""
    from workbench.report.plan_section import media_mix_channels

    offline = media_mix_channels(plan)
    if not offline:
        return ""
    return (
        '<p class="note">Not on this page: '
        + esc(", ".join(offline))
        + ", planned with the media-mix model. Their spend and conversions are left out of the "
        "totals here; the report's budget section and plan.nc include them.</p>"
    )


def _result_row(label: str, key: str) -> str:
    def cell(prefix: str) -> str:
        return (
            f'<td class="num"><output id="{prefix}-mean"></output> <span class="iv">'
            f'[<output id="{prefix}-lo"></output>, <output id="{prefix}-hi"></output>]'
            "</span></td>"
        )

    return (
        f'<tr><th scope="row">{esc(label)}</th>{cell(key + "0")}{cell(key)}{cell("d" + key)}</tr>'
    )


def write_planner(plan: xr.Dataset, out_dir: str | Path, *, source: str = "plan.nc") -> Path:
    """Render the planner page to ``out_dir/planner.html`` atomically; returns the path."""
    import os
    import tempfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PLANNER_NAME
    text = render_planner(plan, source=source)
    fd, tmp = tempfile.mkstemp(prefix=f".{PLANNER_NAME}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, PLANNER_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
