"""Open in Colab: the badges and the set-up cells come from tools/colab.py and are up to date; the cell does nothing
outside Colab and, in a simulated Colab, turns the widgets on and says the device once; pyproject declares ranges."""
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402  (tools/colab.py)

BADGE_LINK = re.compile(r"\(https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/notebooks/(\S+?)\)")
STUB_OUTPUT = '''"""A stand-in for Colab's google.colab.output: each call is a line of $COLAB_STUB_LOG."""
import os


def enable_custom_widget_manager():
    with open(os.environ["COLAB_STUB_LOG"], "a", encoding="utf-8") as log:
        log.write("enable_custom_widget_manager\\n")
'''


def make_colab_stub(folder):
    """A package google.colab (google a namespace package, as on Colab) whose output module records its calls."""
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A stand-in for Colab\'s google.colab."""\n')
    (package / "output.py").write_text(STUB_OUTPUT)
    return folder


def notebooks():
    """{name: the notebook's JSON} for the course's 14 notebooks."""
    return {name: json.loads((colab.NOTEBOOKS / name).read_text(encoding="utf-8")) for name in colab.notebook_names()}


def setup_source(nb):
    """The source of a notebook's Colab set-up cell."""
    return "".join(next(c for c in nb["cells"] if c.get("id") == colab.CELL_ID)["source"])


def test_every_file_is_as_the_generator_writes_it():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "colab.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_badge_per_notebook_in_the_readme_and_both_course_maps_all_one_slug():
    names = colab.notebook_names()
    assert len(names) == 14
    readme = colab.README.read_text(encoding="utf-8")
    course_map = "".join("".join(c["source"]) for c in notebooks()["01_introduction.ipynb"]["cells"]
                         if "| # | Notebook |" in "".join(c["source"]))  # two slides, each Tamil then English
    repo, branch = colab.current_place(readme)
    assert f"https://mybinder.org/v2/gh/{repo}/HEAD?urlpath=" in readme
    for text, tables in ((readme, 1), (course_map, 2)):  # notebook 01: the Tamil map and its English copy
        links = BADGE_LINK.findall(text)
        assert sorted(links) == sorted([(repo, branch, name) for name in names] * tables)
    assert colab.BADGE in readme and "https://" not in course_map.replace("](https://", "")  # 01 fetches nothing
    for name, nb in notebooks().items():
        assert f'"git+https://github.com/{repo}@{branch}"' in setup_source(nb), name


def test_the_cells_come_right_after_the_title_and_hold_no_outputs():
    for name, nb in notebooks().items():
        note, code = nb["cells"][1], nb["cells"][2]
        assert (note["id"], code["id"]) == (colab.NOTE_ID, colab.CELL_ID), name
        assert nb["cells"][0]["source"][0].startswith("#") and code["outputs"] == [], name
        text = "".join(note["source"])
        assert "Colab-இல்" in text and "<details><summary>English</summary>" in text and text.count("\n") < 16


def test_the_generator_is_idempotent_and_follows_a_new_slug(tmp_path):
    table = "| # | notebook | x |\n|---|---|---|\n| 01 | `01_introduction` | a |\n\nafter | not a row |"
    once = colab.with_colab_column(table, "me/fork", "dev")
    assert colab.with_colab_column(once, "me/fork", "dev") == once
    assert once.splitlines()[0] == "| # | notebook | x | Colab |" and once.splitlines()[1] == "|---|---|---|---|"
    assert "github/me/fork/blob/dev/notebooks/01_introduction.ipynb) |" in once
    moved = colab.with_colab_column(once, "us/course", "main")
    assert "me/fork" not in moved and moved.count("Open in Colab") == 1 and moved.endswith("after | not a row |")
    nb = {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# Title"]}]}
    twice = colab.with_setup_cells(colab.with_setup_cells(nb, "me/fork", "dev"), "me/fork", "dev")
    assert [c["id"] for c in twice["cells"]] == ["t", colab.NOTE_ID, colab.CELL_ID]
    assert "git+https://github.com/me/fork@dev" in "".join(twice["cells"][2]["source"])


def test_a_bad_slug_or_branch_is_refused_by_name():
    with pytest.raises(ValueError, match=r"--repo must be owner/name as on GitHub, got 'course'"):
        colab.check_place("course", "main")
    with pytest.raises(ValueError, match=r"--branch must be a branch name .*, got 'a\.\.b'"):
        colab.check_place("me/fork", "a..b")
    with pytest.raises(ValueError, match=r"--repo must be owner/name"):
        colab.main(["--repo", "me/fork; rm -rf /", "--check"])


def run_cell_twice(tmp_path, extra_path=()):
    """The set-up cell of notebook 04 run twice in one fresh Python (helpers importable from this checkout): its
    output each time, the stub's log (None without a stub) and the panel mode it leaves."""
    source = setup_source(notebooks()["04_amnesia_test.ipynb"])
    script = (f"import os\nsource = {source!r}\n"
              "for _ in range(2):\n    exec(source, {})\n    print('=== run done')\n"
              "print('mode', os.environ.get('COURSE_PANEL_MODE'))\n")
    log = tmp_path / "calls.log"
    env = {"PATH": "/usr/bin:/bin", "COLAB_STUB_LOG": str(log),
           "PYTHONPATH": ":".join([*map(str, extra_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    *runs, mode = done.stdout.split("=== run done\n")
    return runs, log.read_text() if log.exists() else None, mode.strip()


def test_the_cell_does_nothing_outside_colab(tmp_path):
    runs, log, mode = run_cell_twice(tmp_path)
    assert runs == ["", ""] and log is None and mode == "mode None"


def test_the_cell_in_a_simulated_colab_sets_up_once(tmp_path):
    stub = make_colab_stub(tmp_path / "stub")
    runs, log, mode = run_cell_twice(tmp_path, [stub])  # helpers is found: nothing to install
    assert re.fullmatch(r"device found: cpu - CPU, \d+ threads? - torch \S+\n", runs[0]), runs[0]
    assert runs[1] == "" and log == "enable_custom_widget_manager\n" and mode == "mode foreground"


def test_pyproject_declares_the_tested_versions_as_lower_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text()
                           + (ROOT / "requirements-test.txt").read_text(), re.M))
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    assert len(declared) == len(pins)
    for spec in declared:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\S+)", spec).groups()  # one lower bound, no upper one
        assert pins[name] == version, spec
