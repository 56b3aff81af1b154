"""The learner's own notebooks (`make student`, `make lab`, tools/student_notebooks.py): the student version has its
exercises empty and nothing of the solutions left, exactly as nbgrader makes it; a notebook with every exercise
unfinished still runs top to bottom; and both targets copy once and never overwrite what the learner saved, into a
folder that git ignores and `make clean` keeps, from where a notebook still finds helpers and data/."""
import importlib.util
import json
import os
import stat
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
VENV = Path(sys.prefix)  # the environment these tests run in: make uses it as it is, installs nothing
MINE = "    return 0.5  # MY OWN ANSWER, saved"


def graded(nb, kind):
    """The notebook's exercise cells (kind "solution") or check cells (kind "grade")."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get(kind)]


def make(target, work, tmp_path):
    """Run the real `make TARGET` with WORK=`work`, JupyterLab replaced by a stub that prints what it was started
    with; the set-up stamps are taken as done (-o). Returns make's output."""
    stub = tmp_path / "jupyter-lab"
    stub.write_text('#!/bin/sh\necho "started with JUPYTER_CONFIG_PATH=$JUPYTER_CONFIG_PATH" "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    run = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{VENV}/.installed-course",
                          "-o", f"{VENV}/.installed", f"VENV={VENV}", f"WORK={work}", f"JUPYTER_LAB={stub}", target],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run.stdout


def save_an_answer(path):
    """What a student does: write an answer into the first exercise of the notebook at `path` and save it."""
    nb = nbformat.read(path, as_version=4)
    cell = graded(nb, "solution")[0]
    cell.source = cell.source.split("\n")[0] + "\n" + MINE
    nbformat.write(nb, path)


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


def test_the_student_version_is_what_nbgrader_makes():
    """`make student` needs only the course's requirements; its student version is nbgrader's, cell for cell."""
    preprocessors = pytest.importorskip("nbgrader.preprocessors")
    from nbconvert.preprocessors import TagRemovePreprocessor
    for path in NOTEBOOKS:
        nb, resources = nbformat.read(path, as_version=4), {}
        for step in (preprocessors.ClearSolutions(), preprocessors.ClearHiddenTests(),
                     TagRemovePreprocessor(remove_cell_tags=("solution",), enabled=True)):
            nb, resources = step.preprocess(nb, resources)
        for cell in graded(nb, "solution") + graded(nb, "grade"):
            cell.outputs, cell.execution_count = [], None
        ours = student_notebooks.student_version(nbformat.read(path, as_version=4))
        assert nbformat.writes(ours) == nbformat.writes(nb), path.name


def test_a_solution_region_outside_a_solution_cell_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    with pytest.raises(ValueError, match="a solution region outside an nbgrader solution cell"):
        student_notebooks.student_version(nb)


def test_make_student_never_overwrites_the_students_work(tmp_path):
    work = tmp_path / "work"
    said = make("student", work, tmp_path)
    exercises = work / "exercises"
    assert sorted(p.name for p in exercises.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert (exercises / "GLOSSARY.md").is_file() and f"--notebook-dir={exercises}" in said
    save_an_answer(exercises / NOTEBOOKS[3].name)
    (exercises / NOTEBOOKS[4].name).unlink()  # a notebook new in the course (or one deleted for a fresh copy)

    said = make("student", work, tmp_path)
    assert MINE in (exercises / NOTEBOOKS[3].name).read_text()  # the student's answer is still there
    assert f"added {NOTEBOOKS[4].name}; your {len(NOTEBOOKS) - 1} notebooks kept as they are" in said
    again = nbformat.read(exercises / NOTEBOOKS[4].name, as_version=4)
    assert all("raise NotImplementedError()" in c.source for c in graded(again, "solution"))


def test_make_lab_opens_a_working_copy_that_is_never_overwritten(tmp_path):
    work = tmp_path / "work"
    said = make("lab", work, tmp_path)
    copy = work / "notebooks"
    assert [(copy / p.name).read_bytes() for p in NOTEBOOKS] == [p.read_bytes() for p in NOTEBOOKS]  # as stored
    assert f"--notebook-dir={copy}" in said and "--LabApp.default_url=/lab/tree/01_introduction.ipynb" in said
    assert f"JUPYTER_CONFIG_PATH={ROOT / 'tools' / 'jupyter'}" in said  # no news pop-up: tools/jupyter/labconfig
    save_an_answer(copy / NOTEBOOKS[3].name)  # what JupyterLab's autosave does to a notebook that was run
    (copy / NOTEBOOKS[4].name).unlink()

    said = make("lab", work, tmp_path)
    assert MINE in (copy / NOTEBOOKS[3].name).read_text()
    assert (copy / NOTEBOOKS[4].name).read_bytes() == NOTEBOOKS[4].read_bytes()
    assert f"added {NOTEBOOKS[4].name}; your {len(NOTEBOOKS) - 1} notebooks kept as they are" in said
    assert MINE not in NOTEBOOKS[3].read_text()  # the tracked notebook is untouched


def test_the_working_copies_are_ignored_by_git_and_kept_by_make_clean():
    dry = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), "-o", f"{VENV}/.installed-course",
                          f"VENV={VENV}", "lab", "student", "clean"], capture_output=True, text=True, check=True).stdout
    assert "--notebook-dir=my-work/notebooks" in dry and "--notebook-dir=my-work/exercises" in dry
    clean = [line for line in dry.splitlines() if line.startswith("rm -rf")]
    assert clean and not any("my-work" in line for line in clean)
    for path in ("my-work/notebooks/04_amnesia_test.ipynb", "my-work/exercises/04_amnesia_test.ipynb"):
        assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path]).returncode == 0, path


def run_in_place(notebook):
    """Execute `notebook` where it lies (its folder is the kernel's working directory, as in JupyterLab)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                          "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=python3",
                          str(notebook)], capture_output=True, text=True, timeout=900, cwd=notebook.parent, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return nbformat.read(notebook, as_version=4)


@pytest.mark.slow  # executes a notebook with nbconvert
def test_a_notebook_with_every_exercise_unfinished_still_runs(tmp_path):
    student = tmp_path / NOTEBOOKS[7].name  # 08: the attention formula
    nbformat.write(student_notebooks.student_version(nbformat.read(NOTEBOOKS[7], as_version=4)), student)
    nb = run_in_place(student)
    lines = [o.get("text", "") for c in graded(nb, "grade") for o in c.outputs]
    assert len(lines) == 3 and all("not done yet" in line for line in lines)
    last = nb.cells[-1] if nb.cells[-1].cell_type == "code" else [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.execution_count is not None  # the notebook ran to its end


def test_the_working_copy_finds_helpers_and_data(tmp_path):
    copy = tmp_path / "work" / "notebooks"
    student_notebooks.main(copy, [NOTEBOOKS[9].name], as_stored=True)  # what `make lab` copies
    code = ("import helpers, helpers.core.paths as p, json; "
            "print(json.dumps([helpers.__file__, str(p.CORPUS_DIR), "
            "sorted(f.name for f in p.REFERENCE_DIR.glob('*.json'))]))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]  # a kernel there runs this Python in that folder
    package, corpus, recordings = json.loads(run.stdout.splitlines()[-1])
    assert Path(package) == ROOT / "helpers" / "__init__.py" and (Path(corpus) / "train.txt").is_file()
    assert recordings == sorted(f.name for f in (ROOT / "data" / "reference").glob("*.json")) != []
