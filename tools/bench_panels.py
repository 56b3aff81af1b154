"""Every notebook's panel, timed: run each notebook headless up to its panel (the panel's first run is the
default run a class sees), then once more (`panel.run()`, what pressing Run again costs), on a quiet machine and
with one busy process beside it. Prints a table; `make bench` runs it."""
import argparse
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

from bench_threads import busy_neighbour  # tools/ is this script's own folder on sys.path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIMEOUT = 300  # seconds a cell may take before the row says "timed out"
RERUN = "import time as _t\n_s = _t.perf_counter()\npanel.run()\nprint(f'RERUN {_t.perf_counter() - _s:.3f}')"


def cell_seconds(cell):
    """Wall seconds of one executed cell, from the timestamps nbclient records."""
    t = cell.metadata["execution"]
    start, end = (datetime.fromisoformat(t[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def time_panel(path):
    """(seconds of the panel's first run, seconds of a second run) for one notebook."""
    nb = nbformat.read(path, as_version=4)
    index = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "panel = " in c.source)
    nb.cells = nb.cells[:index + 1] + [nbformat.v4.new_code_cell(RERUN)]
    try:
        NotebookClient(nb, timeout=TIMEOUT, record_timing=True,
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    except CellTimeoutError:  # said in the table, not hidden: headless runs have hung beside a busy process
        return None, None
    rerun = next(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout" and "RERUN" in o["text"])
    return cell_seconds(nb.cells[index]), float(rerun.split("RERUN")[1])


def main(argv=None):
    """Time every notebook's panel quiet and beside one busy process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*", help="notebook numbers, e.g. 01 04 (default: all)")
    args = parser.parse_args(argv)
    paths = [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
             if not args.notebooks or p.name[:2] in args.notebooks]
    print(f"{'notebook':<28}{'first, quiet':>14}{'again, quiet':>14}{'first, busy':>13}{'again, busy':>13}", flush=True)
    for path in paths:
        quiet = time_panel(path)
        with busy_neighbour(True):
            busy = time_panel(path)
        cells = [f"{v:.1f}s" if v is not None else "timed out" for v in quiet + busy]
        print(f"{path.stem:<28}{cells[0]:>14}{cells[1]:>14}{cells[2]:>13}{cells[3]:>13}", flush=True)


if __name__ == "__main__":
    main()
