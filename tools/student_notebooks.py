"""The learner's own copies of the notebooks, made once and never overwritten.

`make student` writes the student versions (every exercise empty, `raise NotImplementedError()`; no hidden asserts, no
solution cells, no stored check lines: the same steps as `nbgrader generate_assignment`, without nbgrader or a course
folder) to my-work/exercises/; `make lab` copies the notebooks as stored to my-work/notebooks/. A notebook that is
already there is the learner's and is left as it is; a notebook new in the course is added. For a fresh copy of one,
delete it and run the command again.

    python tools/student_notebooks.py [--as-stored] OUT_DIR [NOTEBOOK ...]
"""
import argparse
import re
import shutil
from pathlib import Path

import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# nbgrader's defaults (ClearSolutions, ClearHiddenTests), which the course's notebooks are written for
CODE_STUB, TEXT_STUB = "# YOUR CODE HERE\nraise NotImplementedError()", "YOUR ANSWER HERE"
SOLUTION, HIDDEN_TESTS = ("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _cut(source, delimiters, stub=""):
    """`source` with each region between the delimiter lines replaced by `stub` (indented like the first delimiter);
    also whether there was one."""
    begin, end = delimiters
    lines, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"a nested {begin!r} in:\n{source}")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            lines += [indent + s for s in stub.split("\n")] if stub else []
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r} in:\n{source}")
    return "\n".join(lines), found


def student_version(nb):
    """The student's copy of notebook `nb` (nbformat): exercises emptied, hidden asserts and solution cells removed,
    their checks' old answers cleared."""
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, had_solution = _cut(cell.source, SOLUTION, stub)
        if grading.get("solution") and not had_solution:
            cell.source = stub  # a solution cell without delimiters is emptied whole
        if had_solution and not grading.get("solution"):
            raise ValueError(f"a solution region outside an nbgrader solution cell:\n{cell.source}")
        cell.source, had_tests = _cut(cell.source, HIDDEN_TESTS)
        if had_tests and not grading.get("grade"):
            raise ValueError(f"hidden tests outside an nbgrader test cell:\n{cell.source}")
        if cell.cell_type == "code" and grading:  # an exercise or its check: nothing stored
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("celltoolbar", None)
    nb, _ = TagRemovePreprocessor(remove_cell_tags=("solution",), enabled=True).preprocess(nb, {})
    return nb


def main(out, names=(), as_stored=False):
    """Copy into `out` each notebook of `names` (default: all) and the glossary that `out` does not hold yet: the
    student version, or the notebook as stored with `as_stored`. Returns the names added."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [NOTEBOOKS / n for n in names] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    paths += [p for p in [NOTEBOOKS / "GLOSSARY.md"] if p.exists() and not names]
    added = []
    for path in paths:
        target = out / path.name
        if target.exists():
            continue  # the learner's own: never overwritten
        if as_stored or path.suffix != ".ipynb":
            shutil.copyfile(path, target)
        else:
            nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        added.append(path.name)
    kept = [p.name for p in paths if p.suffix == ".ipynb" and p.name not in added]
    what = "notebooks as stored" if as_stored else "notebooks with empty exercises"
    said = [f"added {', '.join(added)}" if kept else f"the {what} written ({len(added)} files)"] if added else []
    said += [f"your {len(kept)} notebooks kept as they are (delete one for a fresh copy)"] if kept else []
    print(f"{out}: {'; '.join(said) or 'nothing to do'}")
    return added


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--as-stored", action="store_true", help="copy the notebooks as stored (solutions included)")
    parser.add_argument("out", type=Path, help="the folder of the learner's copies")
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
    args = parser.parse_args()
    main(args.out, args.names, args.as_stored)
