"""The notebooks as a student practises them: every exercise empty (`raise NotImplementedError()`), no hidden
asserts, no solution cells, no stored check lines. Written to build/student/ by `make student`; the same steps as
`nbgrader generate_assignment`, without a course folder.

    .venv/bin/python tools/student_notebooks.py [OUT_DIR] [NOTEBOOK ...]
"""
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

ROOT = Path(__file__).resolve().parents[1]


def student_version(nb):
    """The student's copy of notebook `nb` (nbformat): exercises emptied, their checks' old answers cleared."""
    resources = {}
    for step in (ClearSolutions(), ClearHiddenTests(),
                 TagRemovePreprocessor(remove_cell_tags=("solution",), enabled=True)):
        nb, resources = step.preprocess(nb, resources)
    for cell in nb.cells:
        if cell.cell_type == "code" and "nbgrader" in cell.metadata:  # an exercise or its check: nothing stored
            cell.outputs, cell.execution_count = [], None
    return nb


def main(out=ROOT / "build" / "student", names=()):
    """Write the student versions of `names` (default: all 13) and the glossary into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [ROOT / "notebooks" / n for n in names] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        nbformat.write(student_version(nbformat.read(path, as_version=4)), out / path.name)
    glossary = ROOT / "notebooks" / "GLOSSARY.md"
    if glossary.exists():
        shutil.copy2(glossary, out / glossary.name)
    print(f"{len(paths)} notebooks with empty exercises in {out}")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or [ROOT / "build" / "student"]), names=sys.argv[2:])
