"""Store notebooks compactly: PNG outputs (and the PNGs inside a panel's static HTML copy) as 256-colour
palette PNGs, and no saved widget state."""
import argparse
import sys
import base64
import io
import re

import nbformat
from PIL import Image

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HTML_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")  # images inlined in text/html


def palette_png(b64):
    """One base64 PNG as a 256-colour palette PNG (unchanged if already palette or not smaller)."""
    raw = base64.b64decode(b64)
    with Image.open(io.BytesIO(raw)) as image:
        if image.mode == "P":
            return b64
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, "white")  # figures are drawn on white; keep it so
    small = io.BytesIO()
    Image.alpha_composite(white, rgba).convert("RGB").quantize(256).save(small, format="PNG", optimize=True)
    return base64.b64encode(small.getvalue()).decode("ascii") if small.tell() < len(raw) else b64


def compact_output(output):
    """Shrink one cell output in place; True if it changed."""
    data = output.get("data", {})
    changed = data.pop(WIDGET_STATE, None) is not None
    if "image/png" in data:
        png = data["image/png"].replace("\n", "")
        new = palette_png(png)
        changed |= new != png
        data["image/png"] = new
    if "data:image/png" in data.get("text/html", ""):
        html = data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
        new = HTML_PNG.sub(lambda m: "data:image/png;base64," + palette_png(m.group(1)), html)
        changed |= new != html
        data["text/html"] = new
    return changed


def compact(path):
    """Compact one notebook file in place; True if it was rewritten."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    changed = nb.metadata.pop("widgets", None) is not None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            changed |= compact_output(output)
    if changed:
        nbformat.write(nb, path)
    return changed


def stored_errors(path):
    """Indices of the cells whose stored outputs hold an error or a traceback: an exception raised while a figure
    was shown (the figure audit, helpers/view/audit.py) is printed by IPython, and nbconvert carries on."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return [i for i, cell in enumerate(nb.cells) for o in cell.get("outputs", [])
            if o.get("output_type") == "error" or "Traceback" in "".join(o.get("text", ""))]


def main(argv=None):
    """Command line: compact every notebook named; exit 1 when one holds an error or a traceback in its outputs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="+", help="paths of .ipynb files, rewritten in place")
    failed = False
    for path in parser.parse_args(argv).notebooks:
        print(f"{path}: {'compacted' if compact(path) else 'already compact'}")
        errors = stored_errors(path)
        if errors:
            print(f"{path}: an error or a traceback stored in the outputs of cells {errors}", file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
