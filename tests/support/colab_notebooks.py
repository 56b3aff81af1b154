"""Run inside a fresh environment by tests/test_colab_env.py: every notebook given, headless, in its own kernel, as
Colab would (the working folder holds the notebook alone). After the last cell, a probe cell says where torch and
helpers come from, and the Colab cell runs a second time. Writes one JSON record per notebook to the results file.

    python colab_notebooks.py RESULTS.json WORKDIR NOTEBOOK...
"""
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

PROBE = "import sys, torch, helpers\nprint(sys.prefix, torch.__version__, helpers.__file__, sep='\\n')"


def text_of(cell):
    """What a code cell printed (stdout and stderr)."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def run_one(path, workdir):
    """One notebook, every cell, then the probe and the Colab cell again: a dict of what happened."""
    nb = nbformat.read(path, as_version=4)
    colab = next(i for i, c in enumerate(nb.cells) if c.get("id") == "colab-setup")
    record = {"notebook": path.name, "cells": len(nb.cells), "error": None}
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    started = time.perf_counter()
    with client.setup_kernel():
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except CellExecutionError as err:
            record["error"] = f"cell {index}: {str(err)[-1500:]}"
        record["colab_output"] = text_of(nb.cells[colab])
        extra = [nbformat.v4.new_code_cell(PROBE), nbformat.v4.new_code_cell(nb.cells[colab].source)]
        for cell in extra:
            nb.cells.append(cell)
            client.execute_cell(cell, len(nb.cells) - 1)
        record["probe"] = text_of(extra[0]).split("\n")[:3]
        record["again_output"] = text_of(extra[1])
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record


def main(results, workdir, *paths):
    """Run every notebook, printing a line each, and write the records."""
    records = []
    for path in map(Path, paths):
        records.append(run_one(path, Path(workdir)))
        print(f"{path.name}: {records[-1]['seconds']} s, {'failed' if records[-1]['error'] else 'ok'}", flush=True)
        Path(results).write_text(json.dumps(records, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
