"""Assemble the report: one self-contained HTML page from a results folder.

The page has inline CSS and inline (base64 SVG) figures and no scripts, links to other files or
fonts, so it works offline and as an email attachment. Every data-derived string is escaped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from workbench.report.markup import esc
from workbench.report.results import Results
from workbench.report.sections import all_sections

#: File name of the rendered report inside the output folder.
REPORT_NAME = "report.html"
TITLE = "Marketing attribution, customer value and budget report"
#: File mode of the written report (readable by everyone, like any document).
REPORT_MODE = 0o644
CSS_FILE = Path(__file__).with_name("report.css")


def render_html(res: Results, *, generated: dt.datetime | None = None) -> str:
    """The report for ``res`` as one HTML string."""
    from workbench import __version__

    sections = all_sections(res)
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    sources = ", ".join(esc(p.name) for p in res.files.values()) or "none"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request may leave the file: forbid every fetch except inline data.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{esc(TITLE)}</title><style>{CSS_FILE.read_text(encoding='utf-8')}</style>"
        "</head><body><main>"
        f"<header><h1>{esc(TITLE)}</h1><p>Generated {esc(when)} from {sources} "
        f"in {esc(res.folder.name or str(res.folder))}.</p>{_planner_link(res)}</header>"
        f"<nav>{nav}</nav>"
        + "".join(s.html() for s in sections)
        + f"<footer>workbench {esc(__version__)}</footer></main></body></html>\n"
    )


def _planner_link(res: Results) -> str:
    """A plain relative link to the planner page written beside the report (no fetch)."""
    from workbench.report.planner import PLANNER_NAME, has_payload

    if not has_payload(res.plan):
        return ""
    return (
        f'<p>Try budget splits in the <a href="{esc(PLANNER_NAME)}">budget planner</a> '
        "(a page beside this report).</p>"
    )


def write_report(res: Results, out_dir: str | Path) -> Path:
    """Render ``res`` to ``out_dir/report.html`` atomically; returns the path."""
    import os
    import tempfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_NAME
    text = render_html(res)
    fd, tmp = tempfile.mkstemp(prefix=f".{REPORT_NAME}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, REPORT_MODE)  # mkstemp makes it owner-only; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
