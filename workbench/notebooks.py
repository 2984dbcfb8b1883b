"""Execute the project's notebooks headless (papermill) and render them to HTML (nbconvert).

Each notebook in ``notebooks/`` has a cell tagged ``parameters``; papermill injects
``data_dir``, ``results_dir``, ``reports_dir``, ``small`` and ``seed`` after it. The executed
copies and their HTML renderings land in ``<workdir>/reports/notebooks/``. Notebooks run in
``workdir`` in the order of ``NOTEBOOKS`` (the quickstart fills ``results/`` when it is empty,
and the later notebooks read it).

The kernel is the Jupyter kernel spec ``python3`` when it starts this interpreter (the project's
virtual environment); otherwise a kernel spec for this interpreter is installed into its prefix
(``python -m ipykernel install --sys-prefix``), so no manual step is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from posterior_tools.settings import CHAINS, DRAWS, TUNE

#: Notebooks in execution order (file stems in ``NOTEBOOK_DIR``).
NOTEBOOKS = (
    "quickstart",
    "attribution",
    "clv_cdnow",
    "clv_simulated",
    "budget_scenarios",
    "mmm",
    "experiments",
    "customer_experience",
)
#: Where the notebooks live: the repository's ``notebooks/`` folder.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
#: Output folder, relative to ``workdir``.
OUTPUT_SUBDIR = Path("reports") / "notebooks"
#: Preferred kernel name, and the name used when it does not start this interpreter.
KERNEL_NAME = "python3"
FALLBACK_KERNEL_NAME = "workbench-python3"
#: Longest a single cell may run (seconds) before the run fails.
CELL_TIMEOUT_S = 1800
#: Interpreter names that jupyter_client replaces with the running interpreter.
_MAJOR, _MINOR = sys.version_info[:2]
GENERIC_PYTHON = {"python", f"python{_MAJOR}", f"python{_MAJOR}.{_MINOR}"}


#: Data and sampler sizes the notebooks use: ``full`` matches ``workbench demo`` (the sampler
#: defaults of ``posterior_tools.settings``); ``small`` is for tests (a few thousand users) and
#: takes the Laplace approximation, whose draws are independent: a short NUTS run there failed
#: its own R-hat and ESS checks, and its intervals could not be trusted.
#: ``holdout_check`` refits the attribution model on a training split for held-out log-loss
#: (it doubles the fitting cost, so small runs skip it); ``plan_draws`` and ``optimiser_draws``
#: are the posterior samples the planner keeps for scenarios and climbs on.
SIZES = {
    "full": {
        "users": 20_000,
        "weeks": 12,
        "method": "auto",
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "holdout_check": True,
        "plan_draws": 400,
        "optimiser_draws": 100,
    },
    "small": {
        "users": 3_000,
        "weeks": 8,
        "method": "laplace",
        "draws": 100,
        "tune": 100,
        "chains": 2,
        "holdout_check": False,
        "plan_draws": 100,
        "optimiser_draws": 30,
    },
}
#: Input tables of the simulator, by name.
TABLES = ("touchpoints", "conversions", "transactions", "spend")


def ensure_inputs(
    data_dir: str | os.PathLike, *, small: bool = False, seed: int = 1
) -> dict[str, Path]:
    """Paths of the input tables in ``data_dir`` (Parquet or CSV), simulating them (with
    truth.json) first when the folder has none."""
    data_dir = Path(data_dir)

    def find() -> dict[str, Path]:
        found = {}
        for table in TABLES:
            hits = sorted(data_dir.glob(f"{table}.parquet")) + sorted(data_dir.glob(f"{table}.csv"))
            if hits:
                found[table] = hits[0]
        return found

    paths = find()
    if len(paths) < len(TABLES):
        from workbench.simulate import simulate, write

        size = SIZES["small" if small else "full"]
        write(simulate(users=size["users"], weeks=size["weeks"], seed=seed), data_dir)
        paths = find()
    return paths


def ensure_results(
    data_dir: str | os.PathLike,
    results_dir: str | os.PathLike,
    *,
    small: bool = False,
    seed: int = 1,
) -> dict[str, Path]:
    """Paths of attribution.nc, clv.nc and plan.nc in ``results_dir``, running the missing
    stages (as ``workbench demo`` does, at the ``SIZES`` for ``small``) on the inputs of
    ``data_dir`` (simulated there when absent). Existing result files are reused as they are."""
    from workbench import api
    from workbench.calibration import calibration_split

    inputs = ensure_inputs(data_dir, small=small, seed=seed)
    size = SIZES["small" if small else "full"]
    results_dir = Path(results_dir)
    out = {name: results_dir / f"{name}.nc" for name in ("attribution", "clv", "plan")}
    if not out["attribution"].is_file():
        api.attribute(
            str(inputs["touchpoints"]),
            str(inputs["conversions"]),
            method=size["method"],
            draws=size["draws"],
            tune=size["tune"],
            chains=size["chains"],
            holdout_check=size["holdout_check"],
            seed=seed,
            out=str(out["attribution"]),
        )
    if not out["clv"].is_file():
        calibration_end, holdout_end = calibration_split(str(inputs["transactions"]))
        api.clv(
            str(inputs["transactions"]),
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            attribution_path=str(out["attribution"]),
            seed=seed,
            out=str(out["clv"]),
        )
    if not out["plan"].is_file():
        api.plan(
            str(out["attribution"]),
            str(out["clv"]),
            str(inputs["spend"]),
            seed=seed,
            max_draws=size["plan_draws"],
            optimiser_draws=size["optimiser_draws"],
            out=str(out["plan"]),
        )
    return out


class NotebookError(RuntimeError):
    """A notebook failed; the message names it and where its partial output was written."""


def _starts_this_python(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    if argv[0] in GENERIC_PYTHON:
        return True
    try:
        return Path(argv[0]).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


def ensure_kernel() -> str:
    """Name of a Jupyter kernel spec that runs this interpreter, installing one if needed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    for name in (KERNEL_NAME, FALLBACK_KERNEL_NAME):
        try:
            if _starts_this_python(manager.get_kernel_spec(name).argv):
                return name
        except NoSuchKernel:
            continue
    # The python3 spec is missing or starts another interpreter: install one for this one.
    # A user-level python3 spec would shadow a --sys-prefix one, so it gets its own name then.
    try:
        manager.get_kernel_spec(KERNEL_NAME)
        name = FALLBACK_KERNEL_NAME
    except NoSuchKernel:
        name = KERNEL_NAME
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", name],
        check=True,
        capture_output=True,
    )
    return name


def notebook_paths(names: Sequence[str] = NOTEBOOKS) -> list[Path]:
    """The notebook files, checked to exist."""
    paths = [NOTEBOOK_DIR / f"{name}.ipynb" for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"notebooks not found: {', '.join(missing)}")
    return paths


def render_html(notebook: Path) -> Path:
    """Write ``notebook`` (executed) as HTML beside it; returns the HTML path."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def run_notebooks(
    workdir: str | os.PathLike = ".",
    small: bool = False,
    *,
    data_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    names: Sequence[str] = NOTEBOOKS,
    seed: int = 1,
) -> list[Path]:
    """Execute the notebooks in ``workdir`` and render them to HTML.

    ``data_dir`` (simulated inputs, default ``<workdir>/data/sim``) and ``results_dir`` (default
    ``<workdir>/results``) are passed to every notebook; ``small=True`` asks them for small data
    and short samplers (tests). Executed copies and HTML go to ``out_dir`` (default
    ``<workdir>/reports/notebooks``). Returns the written paths (executed ``.ipynb`` and
    ``.html`` per notebook, in order). Raises :class:`NotebookError` naming the failing notebook
    after writing its partial output.
    """
    import papermill as pm

    workdir = Path(workdir).resolve()
    out = Path(out_dir) if out_dir is not None else workdir / OUTPUT_SUBDIR
    out.mkdir(parents=True, exist_ok=True)
    parameters = {
        "data_dir": str(Path(data_dir).resolve() if data_dir else workdir / "data" / "sim"),
        "results_dir": str(Path(results_dir).resolve() if results_dir else workdir / "results"),
        "reports_dir": str(out.resolve().parent),
        "small": bool(small),
        "seed": int(seed),
    }
    kernel = ensure_kernel()
    written: list[Path] = []
    for source in notebook_paths(names):
        target = out / source.name
        started = time.perf_counter()
        click.echo(f"  notebook {source.stem} ...")
        try:
            pm.execute_notebook(
                str(source),
                str(target),
                parameters=parameters,
                kernel_name=kernel,
                cwd=str(workdir),
                progress_bar=False,
                execution_timeout=CELL_TIMEOUT_S,
            )
        except pm.PapermillExecutionError as err:
            html = render_html(target) if target.is_file() else None
            raise NotebookError(
                f"notebook {source.name} failed in cell {err.exec_count}: {err.ename}: "
                f"{err.evalue} (partial output: {html or target})"
            ) from err
        written += [target, render_html(target)]
        click.echo(f"  notebook {source.stem} done in {time.perf_counter() - started:.1f} s")
    return written
