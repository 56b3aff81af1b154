"""Open in Colab, from one place: the repository slug and branch, the README's Binder link and its notebook table's
Colab column, the Colab column of notebook 01's course map, and the Colab set-up cells of every notebook.

    python tools/colab.py                       # write them all (again: running it twice changes nothing)
    python tools/colab.py --repo owner/name     # the course published elsewhere: every link and the cells follow
    python tools/colab.py --check               # exit 1 and name what is out of date (the tests run this)

The slug is kept in the README's Binder link and the branch in its Colab links, so a later run keeps them. The
notebooks' other cells are left as they are, outputs included: nothing is executed."""
import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOKS = ROOT / "notebooks"
REPO, BRANCH = "lstm-to-transformer/course", "main"  # used when the README names none
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
BRANCH_NAME = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
BINDER = re.compile(r"(?<=https://mybinder\.org/v2/gh/)(?P<repo>[^/\s]+/[^/\s]+)(?=/)")
COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/(?P<branch>[^\s)]+?)/notebooks/")
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
ROW = re.compile(r"^\| (?P<number>\d\d) \|")
NOTE_ID, CELL_ID = "colab-note", "colab-setup"

NOTE = """\
**Colab-இல் திறந்தால்**, கீழே உள்ள cell-ஐ முதலில் run செய்யுங்கள். அது course-இன் `helpers` package-ஐயும்
data-வையும் repository-இலிருந்து install செய்து (Colab-இன் torch, numpy, ipywidgets அப்படியே இருக்கும்), widget-களை
இயக்கி, கிடைத்த device-ஐச் சொல்கிறது. Colab-இல் panel-கள் kernel-இலேயே ஓடுகின்றன; run முடியும்வரை kernel
busy-ஆக இருக்கும். Colab-க்கு வெளியேயும், இரண்டாவது முறை run செய்தாலும், இந்த cell எதுவும் செய்யாது. GPU வேண்டுமா?
*Runtime → Change runtime type → GPU*.

<details><summary>English</summary>

**Opened in Colab?** Run the cell below first: it installs the course's `helpers` package and data from the
repository (Colab's own torch, numpy and ipywidgets stay as they are), turns on Colab's widget support and prints
the device found. On Colab a panel runs in the kernel itself, which stays busy until the run ends. Anywhere else,
and when run a second time, the cell does nothing. For a GPU: *Runtime → Change runtime type → GPU*.

</details>"""

CELL = """\
# Colab only: the course's helpers and data from its repository, beside Colab's own torch, numpy and ipywidgets
# (pip --no-deps); Colab's widget support on; panels in the kernel's thread. Elsewhere, or run again: nothing.
import importlib.util
import os
import subprocess
import sys

try:
    from google.colab import output as colab_output
except ImportError:  # not on Colab
    colab_output = None
if colab_output is not None and not os.environ.get("COURSE_COLAB_READY"):
    if importlib.util.find_spec("helpers") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "git+https://github.com/{repo}@{branch}"], check=True)
        importlib.invalidate_caches()
    colab_output.enable_custom_widget_manager()
    os.environ.update(COURSE_COLAB_READY="1", COURSE_PANEL_MODE="foreground")
    import helpers
    import torch
    device = helpers.pick_device()
    print("device found:", device, "-", helpers.device_name(device), "- torch", torch.__version__)"""


def check_place(repo, branch):
    """The slug and branch checked; ValueError naming the argument and the form expected."""
    if not SLUG.match(repo or ""):
        raise ValueError(f"--repo must be owner/name as on GitHub, got {repo!r}")
    if not BRANCH_NAME.match(branch or "") or ".." in branch:
        raise ValueError(f"--branch must be a branch name (letters, digits, . _ / -), got {branch!r}")
    return repo, branch


def current_place(readme_text):
    """The slug of the README's Binder link and the branch of its first Colab link, else the defaults."""
    repo, branch = BINDER.search(readme_text), COLAB.search(readme_text)
    return repo["repo"] if repo else REPO, branch["branch"] if branch else BRANCH


def colab_url(repo, branch, name):
    """The address that opens notebooks/<name> in Colab."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{name}"


def notebook_names():
    """The course's notebooks, NN_name.ipynb, in order."""
    return sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def with_colab_column(text, repo, branch, image=True):
    """Every notebook table in `text` (a header `| # | notebook |...`) with a last column "Colab" of badges: Colab's
    badge image (the README), or a text link that fetches nothing (notebook 01, which the course shows offline)."""
    names = {name[:2]: name for name in notebook_names()}
    lines, had = text.split("\n"), None  # had: None outside a notebook table, else whether it has the column already
    for i, line in enumerate(lines):
        if re.match(r"^\| # \| [Nn]otebook \|", line):
            had = line.endswith(" Colab |")
            lines[i] = line if had else line + " Colab |"
        elif had is not None and re.fullmatch(r"\|(-+\|)+", line):
            lines[i] = line if had else line + "---|"
        elif had is not None and (row := ROW.match(line)) and row["number"] in names:
            body = line.rsplit(" | ", 1)[0] if had else line.removesuffix(" |")
            url = colab_url(repo, branch, names[row["number"]])
            label = f"![Open in Colab]({BADGE})" if image else "Open in Colab"
            lines[i] = f"{body} | [{label}]({url}) |"
        elif not line.startswith("|"):
            had = None
    return "\n".join(lines)


def readme_text(text, repo, branch):
    """The README with the Binder link (its ref kept) and the notebook table's Colab column for `repo` and `branch`."""
    text = BINDER.sub(repo, text)
    return with_colab_column(text, repo, branch)


def setup_cells(repo, branch):
    """The Colab note (Tamil, then English) and the set-up code cell, as notebook cells; both skipped in the slides,
    which a class sees in JupyterLab or the exported deck, not on Colab."""
    note = {"cell_type": "markdown", "id": NOTE_ID, "metadata": {"slideshow": {"slide_type": "skip"}},
            "source": lines_of(NOTE)}
    code = {"cell_type": "code", "execution_count": None, "id": CELL_ID,
            "metadata": {"slideshow": {"slide_type": "skip"}, "tags": ["colab"]}, "outputs": [],
            "source": lines_of(CELL.format(repo=repo, branch=branch))}
    return note, code


def lines_of(text):
    """Text as a notebook stores it: a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def with_setup_cells(nb, repo, branch):
    """The notebook with the Colab cells right after its title cell (replaced in place when there already)."""
    note, code = setup_cells(repo, branch)
    cells = [c for c in nb["cells"] if c.get("id") not in (NOTE_ID, CELL_ID)]
    old = {c["id"]: c for c in nb["cells"] if c.get("id") in (NOTE_ID, CELL_ID)}
    if CELL_ID in old and old[CELL_ID]["source"] == code["source"]:
        code = old[CELL_ID]  # unchanged: keep what it holds (an execution count, outputs on Colab)
    return {**nb, "cells": cells[:1] + [note, code] + cells[1:]}


def notebook_text(path, repo, branch):
    """A notebook's file with its Colab cells (and, for notebook 01, the course map's Colab column)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb = with_setup_cells(nb, repo, branch)
    if path.name.startswith("01_"):
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "| # | Notebook |" in text:
                cell["source"] = lines_of(with_colab_column(text, repo, branch, image=False))
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def planned(repo, branch):
    """{path: the text it should have} for the README and every notebook."""
    files = {README: readme_text(README.read_text(encoding="utf-8"), repo, branch)}
    for name in notebook_names():
        files[NOTEBOOKS / name] = notebook_text(NOTEBOOKS / name, repo, branch)
    return files


def main(argv=None):
    """Write (or, with --check, compare) the README and the notebooks; return the exit status."""
    repo, branch = current_place(README.read_text(encoding="utf-8"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=repo, help=f"owner/name on GitHub (now {repo})")
    parser.add_argument("--branch", default=branch, help=f"the branch the links open (now {branch})")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    repo, branch = check_place(args.repo, args.branch)
    stale = {path: text for path, text in planned(repo, branch).items() if path.read_text(encoding="utf-8") != text}
    for path, text in stale.items():
        if args.check:
            print(f"out of date: {path.relative_to(ROOT)} (run python tools/colab.py)")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"written: {path.relative_to(ROOT)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
