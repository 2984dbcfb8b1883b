"""The notebooks: committed clean and parameterised, and every one executes headless on small data.

The execution test runs the real pipeline inside the notebooks (the quickstart fills results/,
the others read it), so it is the slowest test here; it is marked slow but always runs.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from workbench import notebooks

PARAMETERS = ("data_dir", "results_dir", "reports_dir", "small", "seed")


def _load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(notebooks.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", notebooks.NOTEBOOKS)
def test_notebook_is_committed_without_outputs_and_has_a_parameters_cell(name):
    nb = _load(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    defined = set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
    assert set(PARAMETERS) <= defined
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_kernel_spec_starts_this_interpreter():
    import sys
    from pathlib import Path

    from jupyter_client.kernelspec import KernelSpecManager

    name = notebooks.ensure_kernel()
    argv = KernelSpecManager().get_kernel_spec(name).argv
    # jupyter_client swaps a bare "python" for the running interpreter; else it is this one.
    assert (
        argv[0] in notebooks.GENERIC_PYTHON
        or Path(argv[0]).resolve() == Path(sys.executable).resolve()
    )


def _outputs(path) -> tuple[str, list[dict]]:
    nb = nbformat.read(path, as_version=4)
    text, errors = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(out)
            elif out.output_type == "stream":
                text.append(out.text)
            elif "data" in out:
                text.append(out["data"].get("text/plain", ""))
                if "image/png" in out["data"]:
                    text.append("<png>")
    return "\n".join(text), errors


@pytest.mark.slow
def test_every_notebook_executes_on_small_data_and_renders_html(tmp_path):
    written = notebooks.run_notebooks(tmp_path, small=True)
    out = tmp_path / "reports" / "notebooks"
    expected = [out / f"{n}.{ext}" for n in notebooks.NOTEBOOKS for ext in ("ipynb", "html")]
    assert written == expected
    texts = {}
    for name in notebooks.NOTEBOOKS:
        text, errors = _outputs(out / f"{name}.ipynb")
        assert not errors, f"{name}: {json.dumps(errors)[:500]}"
        assert "<png>" in text, f"{name} drew no figure"
        texts[name] = text
        html = (out / f"{name}.html").read_text()
        assert "<img" in html or "image/png" in html
    # The CDNOW notebook reproduces the published BG/NBD estimates (r 0.243, alpha 4.414).
    assert re.search(r"\br\s+0\.24\d", texts["clv_cdnow"])
    assert re.search(r"alpha\s+4\.41\d", texts["clv_cdnow"])
    # The quickstart filled the results folder and wrote the report.
    for result in ("attribution.nc", "clv.nc", "plan.nc"):
        assert (tmp_path / "results" / result).is_file()
    assert (tmp_path / "reports" / "report.html").is_file()
    # The simulated inputs were written where the notebooks were told.
    assert (tmp_path / "data" / "sim" / "truth.json").is_file()
