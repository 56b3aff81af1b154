"""papermill: every notebook has one `parameters` cell (LENGTH, EPOCHS, SEED, DEVICE: the panel's starting values),
and re-running notebook 04 headless at another length gives that length's experiment."""
import re
from pathlib import Path

import nbformat
import papermill
import pytest
import torch

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
    # Static on purpose: executing all 14 notebooks under papermill takes minutes each (notebook 04 is executed
    # below); any assignment at a line's start, spaced or not, counts.
    for name in ("LENGTH", "EPOCHS"):
        assert len(re.findall(rf"^{name}\s*=(?!=)", code, re.M)) == 1, f"a later cell overrides {name}"


@pytest.mark.slow  # papermill runs notebook 04
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


@pytest.mark.slow  # papermill starts a kernel for each
@pytest.mark.parametrize("parameters, message", [
    ({"LENGTH": 500}, "LENGTH must be an integer from 3 to 200, got 500"),
    ({"LENGTH": 2}, "LENGTH must be an integer from 3 to 200, got 2"),  # offered once, never trainable
    ({"EPOCHS": 0}, "EPOCHS must be an integer from 1 to 50, got 0"),
    ({"DEVICE": "cuda" if not torch.cuda.is_available() else "tpu"}, "DEVICE: device"),
])
def test_a_bad_parameter_stops_the_notebook_in_the_cell_that_checks_it(tmp_path, parameters, message):
    out = tmp_path / "bad.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match=message) as caught:
        papermill.execute_notebook(str(NOTEBOOKS[3]), str(out), parameters=parameters,
                                   cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
    assert caught.value.ename == "ValueError"
    failed = next(c for c in nbformat.read(out, as_version=4).cells
                  if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert "check-parameters" in failed.metadata.get("tags", [])  # stopped right after the parameters, nowhere later


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_checks_its_parameters_against_its_panel(path):
    """The check cell follows the parameters (papermill puts its values between them) and the panel uses its ranges."""
    cells = nbformat.read(path, as_version=4).cells
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    check = next(c for c in cells[index + 1:] if c.cell_type == "code")
    assert "check-parameters" in check.metadata.get("tags", []) and "helpers.check_parameters(" in check.source
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "length=(*LENGTHS, LENGTH)" in code and "epochs=(*EPOCH_RANGE, EPOCHS)" in code
