"""The report's closing sections: data quality, and model diagnostics (collapsed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xarray as xr

from workbench.report import figures, summaries
from workbench.report.markup import (
    Section,
    esc,
    figure,
    missing,
    num,
    pct,
    table,
    with_interval,
)
from workbench.report.results import RESULT_FILES, Results

#: Substrings of attrs names that describe rows rejected, dropped or excluded.
QUALITY_KEYS = ("reject", "drop", "exclu", "skip", "invalid", "warning", "organic", "duplicate")
#: Attrs shown in the diagnostics section, when present.
DIAGNOSTIC_KEYS = (
    "posterior_method",
    "method",
    "rhat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "diagnostics_ok",
    "holdout_log_loss",
    "holdout_mae",
    "diagnostics",
    "params_mle",
    "seed",
    "workbench_version",
    "settings",
)


def _as_text(value: Any) -> str:
    """Attrs as short readable text: numbers rounded, flat dicts as ``key value, ...``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        return ", ".join(f"{k} {_as_text(v)}" for k, v in sorted(value.items()))
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def data_quality(res: Results) -> Section:
    """Rows read per input, rows rejected or left out and why, organic conversions."""
    title = "Data quality"
    rows, notes = [], []
    for role in RESULT_FILES:
        ds = getattr(res, role)
        if ds is None:
            continue
        counts = ds.attrs.get("row_counts") or {}
        inputs = ds.attrs.get("inputs") or {}
        for key, value in counts.items():
            if any(q in key.lower() for q in QUALITY_KEYS):
                notes.append(
                    f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(num(value))}</li>"
                )
        counts = {k: v for k, v in counts.items() if not any(q in k.lower() for q in QUALITY_KEYS)}
        for key in sorted(set(counts) - set(inputs)):
            # Counts that are not input files (customers, journeys, patterns...).
            notes.append(
                f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(num(counts[key]))}</li>"
            )
        for name in sorted(inputs):
            info = inputs.get(name) if isinstance(inputs.get(name), dict) else {}
            path = Path(str(info.get("path", ""))).name if info.get("path") else ""
            sha = str(info.get("sha256") or "")[:12]
            rows.append([esc(role), esc(name), esc(path), esc(num(counts.get(name))), esc(sha)])
        for key, value in ds.attrs.items():
            if any(q in key.lower() for q in QUALITY_KEYS):
                notes.append(
                    f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(_as_text(value))}</li>"
                )
    body = ""
    if rows:
        body += table(["Result", "Input", "File", "Rows read", "SHA-256"], rows, numeric_from=3)
    if res.attribution is not None:
        t = summaries.conversion_totals(res.attribution)
        if t["organic"] is not None:
            share = f" ({pct(t['organic'] / t['observed'])} of all)" if t["observed"] else ""
            notes.insert(
                0,
                f"<li>Organic conversions (no touch in the lookback window; counted, not "
                f"credited to any channel): {esc(num(t['organic']) + share)}</li>",
            )
    rejected = any(
        "reject" in key.lower()
        for role in RESULT_FILES
        if getattr(res, role) is not None
        for key in list(getattr(res, role).attrs)
        + list(getattr(res, role).attrs.get("row_counts") or {})
    )
    if not rejected and res.available():
        notes.insert(
            0,
            "<li>Rows rejected: none. Input that fails validation (missing columns, unreadable "
            "timestamps, negative amounts...) stops the run with an error naming the file, column "
            "and rows, so every result here comes from complete, valid files.</li>",
        )
    if notes:
        body += "<ul>" + "".join(notes) + "</ul>"
    if res.attribution is not None:
        body += figure(figures.weekly_touches(res.attribution), "Touches per week and channel")
    if not res.available():
        body += missing("Every results file", "Run the pipeline first.")
    return Section("data-quality", title, body)


# --- diagnostics -----------------------------------------------------------------------------


def diagnostics(res: Results) -> Section:
    """Sampler diagnostics, fitted parameters and provenance, collapsed by default."""
    body = ""
    for role in RESULT_FILES:
        ds = getattr(res, role)
        if ds is None:
            continue
        rows = [
            [esc(k.replace("_", " ")), esc(_as_text(ds.attrs[k]))]
            for k in DIAGNOSTIC_KEYS
            if k in ds.attrs
        ]
        body += f"<h3>{esc(RESULT_FILES[role])}</h3>"
        if rows:
            body += table(["Check", "Value"], rows, numeric_from=2)
        if role == "clv" and "params" in ds:
            s = summaries.summarise(ds["params"])
            prow = [
                [
                    esc(p),
                    with_interval(
                        float(s["mean"].sel(param=p)),
                        float(s["lower"].sel(param=p)),
                        float(s["upper"].sel(param=p)),
                        lambda v: num(v, 3),
                    ),
                ]
                for p in ds["params"]["param"].values
            ]
            body += table(["Parameter", "Estimate"], prow)
        if role == "attribution":
            body += _posterior_table(ds)
            body += figure(
                figures.posterior_predictive(ds),
                "Posterior predictive check of conversions",
                "Observed conversions against the model's replications by channel and path length.",
            )
        if role == "clv" and "model_holdout_mae" in ds:
            rows = [
                [esc(m), esc(num(ds["model_holdout_mae"].sel(purchase_model=m), 4))]
                + (
                    [esc(num(ds["model_holdout_total_error"].sel(purchase_model=m), 1))]
                    if "model_holdout_total_error" in ds
                    else []
                )
                for m in ds["purchase_model"].values
            ]
            headers = ["Purchase model", "Holdout MAE per customer"]
            if "model_holdout_total_error" in ds:
                headers.append("Holdout total error")
            body += table(headers, rows)
    if not body:
        body = missing("Every results file", "Run the pipeline first.")
    return Section("diagnostics", "Model diagnostics", body, collapsed=True)


def _posterior_table(attr: xr.Dataset) -> str:
    """Posterior mean and interval of the attribution model's per-channel parameters."""
    names = [n for n in ("beta", "decay", "saturation") if n in attr and "channel" in attr[n].dims]
    if not names:
        return ""
    summ = {n: summaries.summarise(attr[n]) for n in names}
    rows = []
    for c in attr["channel"].values:
        row = [esc(c)]
        for n in names:
            s = summ[n]
            m = s["mean"].sel(channel=c)
            if m.size != 1:
                row.append("–")
                continue
            row.append(
                with_interval(
                    float(m),
                    float(s["lower"].sel(channel=c)),
                    float(s["upper"].sel(channel=c)),
                    lambda v: num(v, 3),
                )
            )
        rows.append(row)
    return table(["Channel"] + names, rows)
