"""The result files a report reads, loaded into one :class:`Results` holder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

#: The core results files, by role (names written by the CLI's defaults): the report says which
#: of them is missing and how to make it.
CORE_RESULT_FILES = {"attribution": "attribution.nc", "clv": "clv.nc", "plan": "plan.nc"}
#: Results of the optional jobs: their sections appear only when the file is there.
OPTIONAL_RESULT_FILES = {"mmm": "mmm.nc", "experiment": "experiment.nc", "cx": "cx.nc"}
#: Every results file the report reads, by role.
RESULT_FILES = {**CORE_RESULT_FILES, **OPTIONAL_RESULT_FILES}
#: How to produce each results file, quoted when it is missing.
HOW_TO_MAKE = {
    "attribution": "Run `workbench attribute --touchpoints F --conversions F` to add it.",
    "clv": "Run `workbench clv --transactions F` to add it.",
    "plan": "Run `workbench plan --attribution F --clv F --spend F` to add it.",
    "mmm": "Run `workbench mmm --spend F --outcomes F` to add it.",
    "experiment": "Run `workbench experiment --assignments F --conversions F` to add it.",
    "cx": "Run `workbench cx --surveys F` to add it.",
}
#: Variables the report needs from each results file (the documented layouts of
#: docs/contracts.md); a file without one of them is refused with a clear message instead of
#: a report with a silently empty section.
REQUIRED_VARIABLES = {
    "attribution": (
        "attributed_conversions",
        "incremental_conversions",
        "baseline_conversions",
        "heuristic_credit",
        "observed_conversions",
    ),
    "clv": ("clv", "p_alive", "frequency", "params"),
    "plan": ("spend", "description", "conversions", "value", "p_beats_current"),
}
#: Words for clv.nc's ``time_unit``.
UNITS = {"D": "days", "W": "weeks", "M": "months"}


@dataclass
class Results:
    """The result Datasets of one folder; ``None`` for a file that is not there."""

    folder: Path
    attribution: xr.Dataset | None = None
    clv: xr.Dataset | None = None
    plan: xr.Dataset | None = None
    mmm: xr.Dataset | None = None
    experiment: xr.Dataset | None = None
    cx: xr.Dataset | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def available(self) -> list[str]:
        """Roles whose result file was found."""
        return [k for k in RESULT_FILES if getattr(self, k) is not None]


def load_results(folder: str | Path) -> Results:
    """Read whichever of the ``RESULT_FILES`` exist in ``folder``."""
    from workbench.store import read_results

    folder = Path(folder)
    res = Results(folder=folder)
    for role, name in RESULT_FILES.items():
        path = folder / name
        if path.is_file():
            ds = read_results(path)
            check_schema(role, ds, path)
            setattr(res, role, ds)
            res.files[role] = path
    return res


def check_schema(role: str, ds: xr.Dataset, path: Path) -> None:
    """Raise ``InputError`` naming the file and the variables it lacks, and how to remake it."""
    from workbench.errors import InputError

    missing = [name for name in REQUIRED_VARIABLES.get(role, ()) if name not in ds]
    if missing:
        raise InputError(
            f"lacks {', '.join(missing)}, which the report needs; it was written by another "
            f"version or is not a {RESULT_FILES[role]} file. {HOW_TO_MAKE[role]}",
            file=str(path),
        )
