"""notebooks/customer_experience.ipynb: committed without outputs, parameterised like the others,
and it executes headless on small data (simulating its inputs when the folder has none)."""

from __future__ import annotations

import re

import nbformat
import pytest

from workbench import notebooks

NAME = "customer_experience"
PARAMETERS = ("data_dir", "results_dir", "reports_dir", "small", "seed")


def test_the_notebook_is_committed_without_outputs_and_has_a_parameters_cell():
    nb = nbformat.read(notebooks.NOTEBOOK_DIR / f"{NAME}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert set(PARAMETERS) <= set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
    # Only the public API: no private helpers of the package.
    assert not re.search(r"\b_\w+\(", "\n".join(c.source for c in code))


@pytest.mark.slow
def test_the_notebook_executes_on_small_data_and_writes_cx_nc(tmp_path):
    written = notebooks.run_notebooks(tmp_path, small=True, names=(NAME,))
    executed = nbformat.read(written[0], as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, "the notebook drew no figure"
    assert (tmp_path / "results" / "cx.nc").is_file()
    assert (tmp_path / "data" / "sim" / "surveys.parquet").is_file()
