"""papermill: every notebook has one `parameters` cell (LENGTH, EPOCHS, SEED, DEVICE: the panel's starting values),
and re-running notebook 04 headless at another length gives that length's experiment."""
from pathlib import Path

import nbformat
import papermill
import pytest

import helpers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PARAMETERS = ["LENGTH", "EPOCHS", "SEED", "DEVICE"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_that_the_panel_uses(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged parameters"
    found = papermill.inspect_notebook(str(path))
    assert list(found) == PARAMETERS
    assert found["SEED"]["default"] == "0" and found["DEVICE"]["default"] == "None"
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert "LENGTH)" in code and "EPOCHS)" in code  # the panel's (min, max, default) tuples end with them
    assert code.count("LENGTH = ") == 1 and code.count("EPOCHS = ") == 1, "no later cell overrides a parameter"


def test_notebook_04_at_another_length(tmp_path):
    out = tmp_path / "04_length_12.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS[3]), str(out), parameters={"LENGTH": 12, "EPOCHS": 5},
                               cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Length 12, 5 epochs at most" in text
    expected = helpers.amnesia_test(length=12, epochs=5, seed=0)  # the same experiment, here: the oracle
    for kind in expected.accuracy:
        assert f"held-out accuracy {expected.accuracy[kind]:.1%}, {expected.verdict(kind)}" in text
    assert "Length 20, 7 epochs at most" not in text


def test_a_parameter_out_of_range_is_a_clear_error(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match="length must be an integer from 2 to 200, got 500"):
        papermill.execute_notebook(str(NOTEBOOKS[3]), str(tmp_path / "bad.ipynb"), parameters={"LENGTH": 500},
                                   cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
