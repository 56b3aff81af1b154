"""The stored notebooks are compact: no saved widget state, palette PNGs, under 4.5 MiB together."""
import base64
import importlib.util
import io
import json
import random
from pathlib import Path

import nbformat
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_spec = importlib.util.spec_from_file_location("compact_notebooks", ROOT / "tools" / "compact_notebooks.py")
compact_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compact_notebooks)


def test_fourteen_notebooks_under_4_5_mib():
    assert len(NOTEBOOKS) == 14
    total = sum(p.stat().st_size for p in NOTEBOOKS)  # about 0.3 MiB a notebook, stored compactly
    assert total < 4.5 * 1024 * 1024, f"{total / 2**20:.2f} MiB; run `make execute` (it stores them compactly)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_widget_state_stored(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], "widget state stored in metadata.widgets; run `make execute`"
    outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if WIDGET_STATE in o.get("data", {})], "an output holds widget state"


def noisy_png(size=(64, 48)):
    """A PNG (RGBA, opaque) whose pixels are random, so it has thousands of colours."""
    rng = random.Random(0)
    pixels = bytes(rng.randrange(256) if i % 4 != 3 else 255 for i in range(size[0] * size[1] * 4))
    out = io.BytesIO()
    Image.frombytes("RGBA", size, pixels).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def test_compaction_of_a_small_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {"m": {}}}}
    png = nbformat.v4.new_output("display_data", data={"image/png": noisy_png(), "text/plain": "<Figure>"})
    state = nbformat.v4.new_output("display_data", data={WIDGET_STATE: {"state": {}}, "text/plain": "w"})
    html = nbformat.v4.new_output("display_data",
                                  data={"text/html": f'<pre>x</pre><img src="data:image/png;base64,{noisy_png()}"/>'})
    nb.cells.append(nbformat.v4.new_code_cell("plot()", outputs=[png, state, html]))
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    assert compact_notebooks.compact(path)
    stored = path.read_bytes()
    again = nbformat.read(path, as_version=4)
    assert "widgets" not in again.metadata
    data = again.cells[0].outputs[0]["data"]
    image = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert (image.mode, image.size) == ("P", (64, 48))
    assert WIDGET_STATE not in again.cells[0].outputs[1]["data"]
    inline = again.cells[0].outputs[2]["data"]["text/html"]  # a panel's static copy: its PNG is compacted too
    assert inline.startswith('<pre>x</pre><img src="data:image/png;base64,') and inline.endswith('"/>')
    image = Image.open(io.BytesIO(base64.b64decode(compact_notebooks.HTML_PNG.search(inline).group(1))))
    assert (image.mode, image.size) == ("P", (64, 48))
    assert not compact_notebooks.compact(path) and path.read_bytes() == stored  # a second run changes nothing


def test_compaction_refuses_a_notebook_with_a_stored_traceback(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("plt.show()", outputs=[nbformat.v4.new_output(
        "stream", name="stderr", text="Traceback (most recent call last):\nValueError: figure text under 10 pt")])]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(SystemExit, match="1"):
        compact_notebooks.main([str(path)])
    assert "an error or a traceback stored in the outputs of cells [0]" in capsys.readouterr().err
