"""The teacher's route: nbgrader makes the student version of a notebook, autogrades the stored notebook (its
solutions filled in: full marks) and the blank student version (zero), and writes feedback with the checks' lines."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "06_transformer_revolution.ipynb"
BIN = Path(sys.executable).parent  # nbgrader and alembic, which nbgrader runs, live beside this Python


def nbgrader(course, *args):
    """Run one nbgrader command in the course folder; fail with its output when it fails."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def sources(path):
    """Every cell's source of a notebook file, by cell."""
    return ["".join(c["source"]) for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]]


def grade_cells(path):
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return [c["metadata"]["nbgrader"] for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder, its one assignment made from the stored notebook, two submissions autograded with feedback."""
    course = tmp_path_factory.mktemp("course")
    config = 'c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = "course"\n'
    (course / "nbgrader_config.py").write_text(config + (ROOT / "tools" / "nbgrader_config.py").read_text())
    (course / "source" / "ps1").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, course / "source" / "ps1")
    nbgrader(course, "generate_assignment", "ps1")
    for student, version in (("solved", "source"), ("blank", "release")):
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        shutil.copy(course / version / "ps1" / NOTEBOOK, course / "submitted" / student / "ps1")
    nbgrader(course, "autograde", "ps1")
    nbgrader(course, "generate_feedback", "ps1")
    return course


def test_the_notebook_has_graded_exercises():
    cells = grade_cells(ROOT / "notebooks" / NOTEBOOK)
    assert len(cells) >= 2 and all(c["locked"] and c["points"] > 0 for c in cells)


@pytest.mark.slow  # nbgrader generates and autogrades (the course fixture)
def test_student_version_has_no_solutions(course):
    stored, student = sources(ROOT / "notebooks" / NOTEBOOK), sources(course / "release" / "ps1" / NOTEBOOK)
    assert sum("### BEGIN SOLUTION" in s for s in stored) >= 2 and sum("BEGIN HIDDEN TESTS" in s for s in stored) >= 2
    assert sum("<summary>தீர்வு / Solution</summary>" in s for s in stored) >= 2
    for text in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "assert ok", "<summary>தீர்வு / Solution</summary>"):
        assert not any(text in s for s in student), text
    assert sum("raise NotImplementedError()" in s for s in student) == sum("### BEGIN SOLUTION" in s for s in stored)
    assert len(student) == len(stored) - sum("<summary>தீர்வு / Solution</summary>" in s for s in stored)


@pytest.mark.slow  # nbgrader generates and autogrades (the course fixture)
def test_solved_gets_full_marks_and_blank_gets_zero(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        solved, blank = gb.find_submission("ps1", "solved"), gb.find_submission("ps1", "blank")
        assert solved.max_score == sum(c["points"] for c in grade_cells(ROOT / "notebooks" / NOTEBOOK)) > 0
        assert solved.score == solved.max_score
        assert blank.score == 0 and blank.max_score == solved.max_score


@pytest.mark.slow  # nbgrader generates and autogrades (the course fixture)
def test_feedback_carries_the_checks_lines(course):
    n = len(grade_cells(ROOT / "notebooks" / NOTEBOOK))
    solved = (course / "feedback" / "solved" / "ps1" / NOTEBOOK.replace(".ipynb", ".html")).read_text(encoding="utf-8")
    blank = (course / "feedback" / "blank" / "ps1" / NOTEBOOK.replace(".ipynb", ".html")).read_text(encoding="utf-8")
    passed, not_done = "பொருந்துகிறது / passed: matches", "இன்னும் முடிக்கவில்லை / not done yet"  # check's lines
    assert solved.count(passed) == n and not_done not in solved
    assert blank.count(not_done) == n and passed not in blank
    assert blank.count("AssertionError") >= n  # the hidden check, restored for grading, failed
