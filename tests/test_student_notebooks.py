"""The student's notebooks (`make student`, tools/student_notebooks.py): exercises empty, nothing of the solutions
left, and a notebook with every exercise unfinished still runs top to bottom."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "tools" / "student_notebooks.py")
student_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_notebooks)


def graded(nb, kind):
    """The notebook's exercise cells (kind "solution") or check cells (kind "grade")."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get(kind)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_are_empty_and_no_solution_is_left(path):
    stored = nbformat.read(path, as_version=4)
    student = student_notebooks.student_version(nbformat.read(path, as_version=4))
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "Solution</summary>" not in text
    answers = graded(student, "solution")
    assert len(answers) == len(graded(stored, "solution")) >= 1
    assert all("raise NotImplementedError()" in c.source for c in answers)
    assert all(c.outputs == [] for c in graded(student, "grade"))  # no stored "passed" line
    assert len(student.cells) == len(stored.cells) - len(answers)  # only the collapsed solutions left out


def test_a_notebook_with_every_exercise_unfinished_still_runs(tmp_path):
    student = tmp_path / NOTEBOOKS[7].name  # 08: the attention formula
    nbformat.write(student_notebooks.student_version(nbformat.read(NOTEBOOKS[7], as_version=4)), student)
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                          "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=python3", str(student)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    nb = nbformat.read(student, as_version=4)
    lines = [o.get("text", "") for c in graded(nb, "grade") for o in c.outputs]
    assert len(lines) == 2 and all("not done yet" in line for line in lines)
    last = nb.cells[-1] if nb.cells[-1].cell_type == "code" else [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.execution_count is not None  # the notebook ran to its end
