"""HTML building blocks for the report: escaping, number formats, tables and inline figures.

Everything that came from data (channel names, scenario names, file names, attrs) passes
through :func:`esc` before it reaches the page; figures are embedded as base64 SVG inside
``<img>`` tags, where no script can run and no request leaves the file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

#: Figure embedding format; SVG stays sharp in print.
FIGURE_FORMAT = "svg"
#: Magnitudes below this print as 0.
NEGLIGIBLE = 1e-9
#: Tables with more columns than this get a smaller font so they fit a page.
WIDE_TABLE_COLUMNS = 6


def esc(value: object) -> str:
    """HTML-escape any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _finite(x: object) -> bool:
    try:
        return x is not None and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def num(x: object, digits: int = 0) -> str:
    """A number with thousands separators; an en dash when missing."""
    if not _finite(x):
        return "–"
    value = float(x)  # type: ignore[arg-type]
    if abs(value) < NEGLIGIBLE:
        value = 0.0  # optimiser output such as 4.6e-12 reads as zero, not "0.00"
    if digits == 0 and abs(value) < 10 and value != round(value):
        digits = 1 if abs(value) >= 1 else 2
    return f"{value:,.{digits}f}"


def ratio(x: object) -> str:
    """A ratio such as ROAS or CLV:CAC, two decimals."""
    return num(x, 2)


def pct(x: object, digits: int = 0) -> str:
    """A fraction as a percentage."""
    return f"{100 * float(x):.{digits}f}%" if _finite(x) else "–"  # type: ignore[arg-type]


def chance(x: object) -> str:
    """A probability as a percentage that never reads 100% or 0% unless it is exactly that
    (a posterior share of 0.999 is ">99%", of 0.001 "<1%")."""
    if not _finite(x):
        return "–"
    p = float(x)  # type: ignore[arg-type]
    if 0.0 < p < 0.01:
        return "<1%"
    if 0.99 < p < 1.0:
        return ">99%"
    return pct(p)


def signed(x: object, digits: int = 0) -> str:
    """A change with an explicit sign."""
    if not _finite(x):
        return "–"
    text = num(x, digits)
    return text if text.startswith("-") else f"+{text}"


def interval(lower: object, upper: object, fmt=num) -> str:
    """``lower to upper`` in the given format; empty when missing or degenerate."""
    if not (_finite(lower) and _finite(upper)) or float(lower) == float(upper):  # type: ignore[arg-type]
        return ""
    return f"{fmt(lower)} to {fmt(upper)}"


#: An interval whose upper end is this many times its mean has no upper bound worth printing
#: (e.g. spend per conversion when the credited conversions can be near zero): it reads
#: "lower or more".
UNBOUNDED_FACTOR = 1_000


def with_interval(mean: object, lower: object, upper: object, fmt=num) -> str:
    """``mean (lower to upper)`` as escaped HTML, the interval in a muted span; ``(lower or
    more)`` when the upper end is beyond ``UNBOUNDED_FACTOR`` times the mean."""
    unbounded = (
        _finite(mean)
        and _finite(upper)
        and float(mean) > 0  # type: ignore[arg-type]
        and float(upper) > UNBOUNDED_FACTOR * float(mean)  # type: ignore[arg-type]
    )
    iv = f"{fmt(lower)} or more" if unbounded and _finite(lower) else interval(lower, upper, fmt)
    main = esc(fmt(mean))
    return f'{main} <span class="iv">({esc(iv)})</span>' if iv else main


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric_from: int = 1,
    caption: str | None = None,
) -> str:
    """An HTML table. ``headers`` are plain text (escaped here); ``rows`` hold cells that are
    already HTML (build them with :func:`esc` or the formatters). Columns from ``numeric_from``
    on are right-aligned."""
    head = "".join(
        f"<th{' class=num' if i >= numeric_from else ''}>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=num' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    wide = ' class="wide"' if len(headers) > WIDE_TABLE_COLUMNS else ""
    return (
        f'<div class="table"><table{wide}>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def figure(fig: Figure | None, alt: str, caption: str = "") -> str:
    """A matplotlib Figure as an inline ``<figure>`` (base64 SVG in an ``<img>``); the figure
    is closed. Returns an empty string for ``None``."""
    if fig is None:
        return ""
    import matplotlib as mpl

    from workbench.report.figures import STYLE

    buf = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format=FIGURE_FORMAT, metadata={"Date": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="data:image/svg+xml;base64,{data}">{cap}</figure>'


def missing(what: str, how: str) -> str:
    """A note that a part of the results is absent, and how to produce it."""
    return f'<p class="missing">{esc(what)} is not in the results. {esc(how)}</p>'


@dataclass(frozen=True)
class Section:
    """One report section: anchor id, heading and body HTML."""

    id: str
    title: str
    body: str
    collapsed: bool = False

    def html(self) -> str:
        if self.collapsed:
            return (
                f'<section id="{esc(self.id)}"><details><summary><h2>{esc(self.title)}</h2>'
                f"</summary>{self.body}</details></section>"
            )
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}</h2>{self.body}</section>'
