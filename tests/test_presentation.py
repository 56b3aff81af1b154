"""The lessons as a class sees them: one idea per slide, every takeaway guarded by an assert just above it, no figure
shown twice, text a back row reads, model colours a colour-blind reader tells apart, a question to predict before
each key experiment; and the tools behind them (helpers.view.audit, helpers.view.predict, timing.device_line)."""
import ast
import hashlib
import io
import itertools
import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from colorspacious import cspace_convert  # noqa: E402

from helpers.core.timing import NO_GPU, Timing, device_line  # noqa: E402
from helpers.view import audit, plots  # noqa: E402
from helpers.view.predict import predict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CODE_LINES = 30     # non-blank lines of code on one slide
MAX_WORDS = 120         # words of markdown on one slide, outside <details> (the English a reader opens)
HIDDEN = ("skip", "notes")
TAKEAWAY_HEADING = re.compile(r"^#+ .*(சுருக்கம்|takeaway|what to look for)", re.I | re.M)
COURSE_CHECKS = re.compile(r"\bassert|nbval|pytest|make test|thread polic", re.I)
PNG_IN_HTML = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\n]+)")
CVD = (None, "protanomaly", "deuteranomaly", "tritanomaly")  # normal vision and the three, at full severity
MIN_DISTANCE = 22       # CAM02-UCS distance between two model colours, under each kind of vision


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell):
    return "".join(cell["source"])


def kind(cell):
    return cell["metadata"].get("slideshow", {}).get("slide_type", "-")


def slides(path):
    """[(index of the slide's first cell, [visible cells])]: a slide or subslide and the cells shown with it."""
    out = []
    for i, cell in enumerate(cells(path)):
        if kind(cell) in HIDDEN:
            continue
        if kind(cell) in ("slide", "subslide") or not out:
            out.append((i, []))
        out[-1][1].append(cell)
    return out


def prose(markdown):
    """The markdown a slide shows before anyone opens its English."""
    return re.sub(r"<details>.*?</details>", "", markdown, flags=re.S)


def pngs(path):
    """[(cell index, md5)] of every PNG in the stored outputs, shown directly or inside a static copy's HTML."""
    out = []
    for i, cell in enumerate(cells(path)):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            found = [data["image/png"]] if "image/png" in data else []
            found += PNG_IN_HTML.findall("".join(data.get("text/html", "")))
            out += [(i, hashlib.md5("".join(p.split()).encode()).hexdigest()) for p in found]
    return out


def has_assert(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_slide_limits(path):
    too_big = []
    for start, shown in slides(path):
        code = sum(len([line for line in text(c).splitlines() if line.strip()]) for c in shown
                   if c["cell_type"] == "code" and "colab" not in c["metadata"].get("tags", []))
        words = sum(len(prose(text(c)).split()) for c in shown if c["cell_type"] == "markdown")
        if code > MAX_CODE_LINES or words > MAX_WORDS:
            too_big.append(f"cell {start}: {code} lines of code, {words} words")
    assert not too_big, f"slides over {MAX_CODE_LINES} lines of code or {MAX_WORDS} words: {too_big}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_every_takeaway_is_guarded_by_an_assert_just_above(path):
    nb = cells(path)
    takeaways = [i for i, c in enumerate(nb) if "takeaway" in c["metadata"].get("tags", [])]
    untagged = [i for i, c in enumerate(nb) if c["cell_type"] == "markdown" and kind(c) not in HIDDEN
                and TAKEAWAY_HEADING.search(text(c)) and i not in takeaways]
    assert not untagged, f"takeaway slides without the 'takeaway' tag: cells {untagged}"
    assert len(takeaways) >= 2, f"{path.name}: {len(takeaways)} takeaway slides, at least 2 expected"
    unguarded = []
    for i in takeaways:
        assert nb[i]["cell_type"] == "markdown", f"cell {i} is tagged 'takeaway' but is not markdown"
        above = next((c for c in reversed(nb[:i]) if c["cell_type"] == "code"), None)
        if above is None or not has_assert(text(above)):
            unguarded.append(i)
    assert not unguarded, f"takeaway cells whose nearest code cell above has no assert: {unguarded}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_no_slide_talks_about_the_course_checks(path):
    talk = [i for i, c in enumerate(cells(path)) if c["cell_type"] == "markdown" and kind(c) not in HIDDEN
            and COURSE_CHECKS.search(text(c))]
    assert not talk, f"visible markdown about asserts, nbval or thread policies (move it to a note): cells {talk}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_a_prediction_before_the_key_experiment_and_its_reveal_after(path):
    code = [(i, text(c)) for i, c in enumerate(cells(path)) if c["cell_type"] == "code"]
    asked = [i for i, s in code if re.search(r"\bpredict\(", s)]
    revealed = [i for i, s in code if ".reveal(" in s]
    assert asked and revealed, f"{path.name}: no predict(...) widget and reveal"
    assert min(asked) < min(revealed), "the reveal comes before the question"


def test_four_notebooks_change_a_model_in_an_exercise():
    tagged = [p.stem[:2] for p in NOTEBOOKS if any("exercise-model" in c["metadata"].get("tags", []) for c in cells(p))]
    assert len(tagged) >= 4, f"exercises that change a model and predict the effect: {tagged}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_no_png_shown_twice_in_the_course(path):
    seen = {}
    for other in NOTEBOOKS:
        for i, digest in pngs(other):
            seen.setdefault(digest, []).append(f"{other.stem[:2]} c{i}")
    twice = [where for i, digest in pngs(path) for where in [seen[digest]] if len(where) > 1]
    assert not twice, f"the same PNG shown more than once: {sorted(set(map(tuple, twice)))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_no_error_or_figure_audit_stored_in_outputs(path):
    bad = [i for i, c in enumerate(cells(path)) for o in c.get("outputs", [])
           if o["output_type"] == "error" or "Traceback" in "".join(o.get("text", ""))
           or "figure text under" in "".join(o.get("text", ""))]
    assert not bad, f"stored outputs with an error or a traceback: cells {bad}"


# ------------------------------------------------------------------ colours a colour-blind reader tells apart
def ucs(hex_color, cvd=None):
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    if cvd:
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}, "sRGB1"), 0, 1)
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def distance(a, b, cvd=None):
    return float(np.linalg.norm(ucs(a, cvd) - ucs(b, cvd)))


def test_model_colours_stay_apart_under_each_colour_vision_deficiency():
    close = [(a, b, cvd, round(distance(plots.COLORS[a], plots.COLORS[b], cvd), 1))
             for a, b in itertools.combinations(plots.COLORS, 2) for cvd in CVD
             if distance(plots.COLORS[a], plots.COLORS[b], cvd) < MIN_DISTANCE]
    assert not close, f"model colours closer than {MIN_DISTANCE} (CAM02-UCS): {close}"


def test_the_old_lstm_pair_fails_the_colour_check():
    """The check can fail: the former LSTM red and forget-bias orange are too close for a deuteranomalous reader."""
    assert distance("#d62728", "#ff7f0e", "deuteranomaly") < MIN_DISTANCE < distance("#d62728", "#ff7f0e")


def test_each_model_has_its_own_line_style_or_marker():
    pairs = [(a, b) for a, b in itertools.combinations(plots.COLORS, 2)
             if (plots.STYLES[a], plots.MARKERS[a]) == (plots.STYLES[b], plots.MARKERS[b])]
    assert not pairs and plots.STYLES["lstm"] != plots.STYLES["lstm_fb1"]
    assert plots.style("LSTM, forget bias 1") == {"color": plots.COLORS["lstm_fb1"], "ls": "--", "marker": "s"}
    with pytest.raises(ValueError, match="kind must be one of"):
        plots.style("GRU")


def test_no_figure_module_keeps_the_old_palette():
    old = ("#d62728", "#ff7f0e", "#1f77b4", "#8c8c8c")
    found = [(p.name, c) for p in (ROOT / "helpers").rglob("*.py") for c in old if c in p.read_text().lower()]
    found += [(p.name, c) for p in NOTEBOOKS for c in old
              if any(c in text(cell).lower() for cell in cells(p) if cell["cell_type"] == "code")]
    assert not found, f"model colours hard-coded from the old palette: {found}"


# ------------------------------------------------------------------ text a back row reads
def png_of(fig, dpi=100):
    buf = io.BytesIO()
    fig.canvas.print_figure(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


@pytest.fixture
def audited():
    audit.install(force=True)
    yield
    audit.uninstall()


def test_the_audit_refuses_small_text_and_passes_the_course_sizes(audited):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="line")
    ax.legend()
    ax.set_title("title")
    png_of(fig)  # the course's rcParams: every text at 10 pt or more
    ax.text(0.5, 0.5, "tiny", fontsize=8)
    with pytest.raises(ValueError, match=r"figure text under 10 pt.*'tiny' at 8.0 pt"):
        png_of(fig)
    plt.close(fig)


def test_the_audit_scales_a_figure_wider_than_it_is_shown(audited):
    """Points shown = points drawn × dpi / 100 × (1,100 px / PNG width, when wider)."""
    fig, ax = plt.subplots(figsize=(22, 2))  # about 1,800 px wide: shown at 1,100 px, so 11 pt ticks read as 7 pt
    ax.set_title("wide")
    with pytest.raises(ValueError, match=r"PNG \d{4} px wide, shown at most 1100 px\): '0\.0' at [67]\.\d pt"):
        png_of(fig)
    assert ("wide", 6.5) in audit.small_texts(fig, 1000, dpi=50)  # 1,000 px at 50 dpi: shown whole, at half size
    assert audit.shown_scale(2200, 100) == 0.5 and audit.shown_scale(800, 100) == 1.0
    with pytest.raises(ValueError, match="width_px and dpi must be positive"):
        audit.shown_scale(0, 100)
    plt.close(fig)


def test_the_audit_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv(audit.ENV, raising=False)
    audit.uninstall()
    assert audit.install() is False
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    assert audit.png_width(png_of(fig)) > 0
    plt.close(fig)


def test_course_font_sizes_are_at_least_ten_points():
    sizes = {k: matplotlib.font_manager.FontProperties(size=plt.rcParams[k]).get_size_in_points()
             for k in plots.COURSE_RC if k != "font.size"}
    assert min(sizes.values()) >= audit.MIN_PT, sizes


# ------------------------------------------------------------------ predict, then run
def test_predict_reveals_the_measured_answer_beside_the_prediction():
    guess = predict("Which model solves length 40?", ["LSTM", "Transformer", "both"])
    shown = guess.reveal("Transformer", why="Transformer 100%, LSTM 9%")
    assert shown.right is None and "No prediction" in shown.text()
    guess.choice.value = "LSTM"  # a prediction made (or changed) after the reveal updates it
    assert shown.right is False and shown.value.endswith("was not.")
    guess.choice.value = "Transformer"
    assert shown.right is True and "Transformer 100%" in shown.text()
    bundle = guess._repr_mimebundle_()
    assert "Which model solves length 40?" in bundle["text/html"] and "both" in bundle["text/plain"]


@pytest.mark.parametrize("question, options, match", [
    ("", ["a", "b"], "question must be a non-empty string"),
    ("q", ["a"], "options must be a list of at least 2"),
    ("q", "ab", "options must be a list of at least 2"),
    ("q", ["a", "a"], "options must be different"),
    ("q", ["a", ""], "each option must be a non-empty string"),
])
def test_predict_refuses_bad_questions(question, options, match):
    with pytest.raises(ValueError, match=match):
        predict(question, options)


def test_reveal_refuses_an_answer_that_is_not_an_option():
    guess = predict("q", ["a", "b"])
    with pytest.raises(ValueError, match=r"answer must be one of \['a', 'b'\], got 'c'"):
        guess.reveal("c")


# ------------------------------------------------------------------ the CPU/GPU cell
def timing(cpu, gpu=None):
    t = Timing("one step")
    t.rows = [{"device": "cpu", "name": "CPU, 1 thread", "median_s": cpu, "runs": [cpu]},
              {"device": "cuda", "name": "GPU" if gpu else NO_GPU, "median_s": gpu, "runs": [gpu] if gpu else []}]
    return t


def test_device_line_is_one_short_line_without_a_gpu():
    line = device_line({"LSTM": timing(0.0125), "Transformer": timing(0.0196)})
    assert line == f"CPU here, per step: LSTM 12.5 ms; Transformer 19.6 ms; {NO_GPU} and none recorded."


def test_device_line_gives_the_recorded_gpu_row():
    line = device_line({"LSTM": timing(0.0125)}, recorded={"LSTM": 0.002}, recorded_on="H100")
    assert line == "CPU here, per step: LSTM 12.5 ms. GPU, recorded on H100: LSTM 2 ms."


def test_device_line_gives_tables_and_speedups_with_a_live_gpu():
    line = device_line({"LSTM": timing(0.01, 0.002), "Transformer": timing(0.01, 0.02)})
    assert line.count("one step") == 2 and line.endswith("LSTM 5.0x; Transformer 2.0x slower")


@pytest.mark.parametrize("timings, recorded, match", [({}, None, "timings must be a non-empty dict"),
                                                      ({"a": 1.0}, None, "timings must be a non-empty dict"),
                                                      ({"a": timing(0.01)}, {}, "recorded must be None")])
def test_device_line_refuses_bad_input(timings, recorded, match):
    with pytest.raises(ValueError, match=match):
        device_line(timings, recorded=recorded)


def test_the_class_board_draws_with_the_course_palette():
    from helpers import board
    assert {k: board.STYLES[k][1] for k in plots.COLORS} == plots.COLORS


# ------------------------------------------------------------------ exact figures only where the stored run is
def test_as_stored_holds_on_the_stored_cpu_and_not_for_other_parameters_torch_or_makers(monkeypatch):
    import re as _re

    import torch

    import helpers
    pin = _re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), _re.M).group(1)
    assert helpers.core.checks.STORED_WITH["torch"] == pin
    monkeypatch.setattr(helpers.core.checks, "cpu_model", lambda: "AMD EPYC")  # the CPU the outputs were stored on
    avx2 = torch.backends.cpu.get_cpu_capability() == "AVX2"  # as make test runs (the Makefile's ATEN_CPU_CAPABILITY)
    assert helpers.as_stored("cpu", LENGTH=(20, 20)) is avx2
    assert helpers.as_stored("cpu", LENGTH=(12, 20)) is False
    monkeypatch.setattr(helpers.core.checks, "cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    assert helpers.as_stored("cpu", LENGTH=(20, 20)) is False  # the same kernels, another maker's MKL paths
    monkeypatch.setattr(helpers.core.checks, "cpu_model", lambda: "AMD EPYC")
    monkeypatch.setattr(torch, "__version__", "2.14.1+cu130")
    assert helpers.as_stored("cpu") is False
    with pytest.raises(ValueError, match=r"LENGTH must be a pair \(value now, value stored\)"):
        helpers.as_stored("cpu", LENGTH=20)


def test_nbval_compares_stored_outputs_only_where_they_are_reproduced(monkeypatch):
    """The root conftest.py: on the stored CPU maker nbval compares outputs; on another it runs lax and says why."""
    import importlib.util
    from types import SimpleNamespace

    import torch

    import helpers
    spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for model, lax in (("AMD EPYC", False), ("Intel(R) Xeon(R) Processor", True)):
        monkeypatch.setattr(helpers.core.checks, "cpu_model", lambda model=model: model)
        config = SimpleNamespace(option=SimpleNamespace(nbval=True, nbval_lax=False))
        root.pytest_configure(config)
        assert config.option.nbval_lax is lax
        header = root.pytest_report_header(config)
        assert (header is None) if not lax else ("here: Intel CPU" in header[0] and "stored on: AMD CPU" in header[0])
    config = SimpleNamespace(option=SimpleNamespace(nbval=False, nbval_lax=False))  # the unit tests: no nbval
    root.pytest_configure(config)
    assert config.option.nbval_lax is False


def test_the_audit_reads_savefig_with_the_figures_own_dpi(audited):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("fine")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi="figure")  # savefig hands print_figure dpi="figure"
    assert audit.png_width(buf.getvalue()) == 300
    plt.close(fig)
