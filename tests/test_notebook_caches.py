"""The trainers the notebooks cache, each stopped before, during and after its first model: the next call
trains and answers (a Stop-cut result is never the one a later call gets). Each notebook runs headless up to the
cell that defines its trainer, then the check below runs in the same kernel."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TRAINERS = {  # notebook -> (the cached trainer, a small call of it)
    "02": ("train_recall", "train_recall('lstm', 16, 6, 2)"),
    "03": ("run", "run(6, 2, 1.0)"),  # calls the cached transformer_run inside
    "06": ("train_recall", "train_recall(6, 2)"),
    "07": ("train_pair", "train_pair(6, 2, 0)"),
    "08": ("train_recall", "train_recall(6, 2)"),
    "10": ("learn", "learn(4, 2, 1)"),
    "11": ("tiny_training", "tiny_training(2)"),
    "12": ("tiny_training", "tiny_training(2, 8)"),
}
CHECK = """
from helpers.core.train import Control, Stopped, controlled

def stopping(moment):
    control = Control()
    def report(name, epoch, epochs):
        if (moment == "during" and epoch == 1) or (moment == "after" and epoch == epochs):
            control.stop.set()
    control.report = report
    if moment == "before":
        control.stop.set()
    return control

for moment in ("before", "during", "after"):
    {name}.cache_clear()
    with controlled(stopping(moment)):
        try:
            cut = {call}
        except Stopped:
            cut = None
    again = {call}
    assert again is not cut, moment
    assert {call} is again, moment
print("every stop kept nothing")
"""


@pytest.mark.slow  # each runs a notebook's cells up to its trainer in a kernel
@pytest.mark.parametrize("number", sorted(TRAINERS))
def test_a_notebook_trainer_keeps_no_stopped_result(number):
    name, call = TRAINERS[number]
    path = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f"def {name}(" in c.source)
    assert "cache_finished" in nb.cells[index].source
    nb.cells = [c for c in nb.cells[:index + 1] if c.cell_type == "code"] + [
        nbformat.v4.new_code_cell(CHECK.format(name=name, call=call))]
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert "every stop kept nothing" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)
