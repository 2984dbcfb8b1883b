"""Report pipeline (``workbench report``): one self-contained HTML report from a results folder."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import InputError


def report(results_dir: str | Path = "results", out_dir: str | Path = "reports") -> Path:
    """Render one self-contained HTML report (``report.html``) from a results folder, and the
    budget planner page (``planner.html``, as self-contained) beside it when plan.nc is there.

    Args:
        results_dir: folder holding attribution.nc, clv.nc, plan.nc (and the other jobs'
            results); a missing file leaves its sections saying so.
        out_dir: folder the report is written to (created when missing).

    Returns:
        The report's path.
    """
    from workbench.report.render import write_report
    from workbench.report.results import RESULT_FILES, load_results

    folder = Path(results_dir)
    expected = ", ".join(RESULT_FILES.values())
    if not folder.is_dir():
        raise InputError(
            f"results folder not found; expected one holding {expected}", file=str(folder)
        )
    res = load_results(folder)
    if not res.available():
        raise InputError(f"no results found; expected at least one of {expected}", file=str(folder))
    path = write_report(res, out_dir)
    from workbench.report.planner import has_payload, write_planner

    if has_payload(res.plan):  # the planner page beside the report (its link points here)
        write_planner(res.plan, out_dir, source=res.files["plan"].name)
    return path
