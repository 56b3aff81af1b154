"""The panel engine (notebook 01): sliders for the length and the epochs, Run and Stop buttons and an output area
around a function; runs in a worker thread with debouncing, errors as messages, progress lines, and a static copy
(HTML and PNGs) for viewers without the widget state. The lessons' panels are in helpers.view.widgets."""
import base64
import html
import os
import threading
import time

import ipywidgets as W
from IPython.core.pylabtools import print_figure

from ..core.checks import check_int
from ..core.train import Control, Stopped, controlled
from .plots import collect_figures

STYLE, LAYOUT = {"description_width": "110px"}, {"width": "520px"}  # every control's label width and width
MODES = ("background", "foreground")  # where a panel's later runs happen: a worker thread, or the kernel's own
MODE_VARIABLE = "COURSE_PANEL_MODE"   # the environment variable that picks the mode when a panel is not told


def panel_mode(mode=None):
    """`mode`, else $COURSE_PANEL_MODE, else "background"; ValueError naming the allowed values (notebook 01)."""
    source, value = ("mode", mode) if mode is not None else (MODE_VARIABLE, os.environ.get(MODE_VARIABLE) or MODES[0])
    if value not in MODES:
        raise ValueError(f"{source} must be one of {', '.join(MODES)}, got {value!r}")
    return value


def with_static_copy(bundle, html_text, pngs):
    """A widget's display bundle plus text/html holding `html_text` and the PNGs: what a viewer without the
    widget state (a handout, a slide, the stored notebook) shows instead of the live widget (notebook 01)."""
    images = "".join(f'<img src="data:image/png;base64,{png}"/>' for png in pngs)
    return {**bundle, "text/html": f'<div class="panel-static">{html_text}{images}</div>'}


def png_text(png):
    """A PNG as base64 text, whether IPython handed it over as bytes or already as text (notebook 01)."""
    return base64.b64encode(png).decode("ascii") if isinstance(png, bytes) else png


def render_png(figure):
    """A matplotlib Figure as PNG text (base64), cropped like the inline backend's (notebook 01)."""
    return png_text(print_figure(figure, "png", bbox_inches="tight"))


def int_slider(description, low, high, value):
    """An IntSlider as every panel's: it reports a value when released, labelled and sized alike (notebook 01)."""
    return W.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                       style=STYLE, layout=W.Layout(**LAYOUT))


class Panel(W.VBox):
    """Sliders for the length and the epochs (and `extra` controls), Run and Stop buttons and an output area around
    `run(length=, epochs=, **extra)`; `show(result)` draws (through helpers.subplots) and returns the summary text;
    `estimate(length, epochs)`, if given, says in seconds about how long a run will take; without it, a long run's
    progress line extrapolates the first model's epochs so far.

    The first run happens in the cell that makes the panel, so a headless execution stores its result; values it
    refuses raise ValueError there. Later runs happen in a background thread and the kernel stays free: a change
    that arrives during a run ends it at the next training step and one run starts with the latest values. Run
    never ends the run it would start (pressed during a run with the same values, it says so and lets it go on);
    Stop ends the run going, keeping what the models learned, and says so before the figures are drawn. Refused
    values leave a message, nothing else. Introduced in notebook 01.

    `mode="foreground"` (or COURSE_PANEL_MODE=foreground) is for front ends that do not show widget updates sent
    from a background thread: a run then happens in the kernel's thread, inside the handler of the change, and the
    kernel is busy until it ends. A change handled during such a run (a re-entrant handler) supersedes it as above.
    """

    SETTLE = 0.25  # a run starts once the controls have been still this many seconds: a burst of moves is one run
    LONG = 30      # runs estimated longer than this say so when they start

    def __init__(self, run, show, length=(3, 200, 20), epochs=(1, 50, 10), extra=None, title="", auto_run=True,
                 estimate=None, mode=None):
        self.mode = panel_mode(mode)
        for name, triple in (("length", length), ("epochs", epochs)):
            if not isinstance(triple, (tuple, list)) or len(triple) != 3:
                raise ValueError(f"{name} must be a (min, max, starting value) triple, got {triple!r}")
            low, high, value = triple
            check_int(name, value, low, high)  # a notebook parameter out of range is refused, not clipped
        self.run_fn, self.show_fn, self.estimate_fn = run, show, estimate
        self.length = int_slider("sequence length", *length)
        self.epochs = int_slider("epochs", *epochs)
        self.controls = {"length": self.length, "epochs": self.epochs, **(extra or {})}
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.message = W.HTML()
        self.summary = W.HTML()
        self.out = W.Output()
        self.result, self.runs, self.last_message, self.figures = None, 0, "", []
        self._lock = threading.Lock()
        self._worker = None    # the background thread of the runs the controls ask for
        self._pending = False  # a run was asked for that has not started yet
        self._control = None   # the Control of the run going now: its Stop
        self._going = None     # the values of the run going now
        self._asked_at = 0.0   # when the last run was asked for (perf_counter seconds)
        for name, widget in [("length", self.length), ("epochs", self.epochs), ("run", self.button),
                             ("stop", self.stop_button), ("message", self.message), ("summary", self.summary)]:
            widget.add_class(f"panel-{name}")  # stable hooks for the browser tests
        for control in self.controls.values():
            control.observe(lambda change: self.request(), "value")
        self.button.on_click(lambda _: self.press_run())
        self.stop_button.on_click(lambda _: self.stop())
        header = [W.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        buttons = W.HBox([self.button, self.stop_button])
        super().__init__(header + list(self.controls.values()) + [buttons, self.message, self.summary, self.out])
        if auto_run:
            self.run(refuse=True)

    @property
    def text(self):
        """The summary of the last successful run, as plain text."""
        return html.unescape(self.summary.value.removeprefix("<pre>").removesuffix("</pre>"))

    @property
    def running(self):
        """True while a background run is going or about to start."""
        return self._worker is not None

    def values(self):
        """The controls' values now."""
        return {name: c.value for name, c in self.controls.items()}

    def run(self, refuse=False, **values):
        """Run the experiment now, in this thread, with the controls' values (overridden by `values`); return its
        result, or None when the values are refused (with `refuse`, raise the ValueError instead). A background
        run still going is stopped first."""
        self.stop(wait=True)
        return self._execute(self.values() | values, Control(self._progress), refuse=refuse)

    def press_run(self):
        """The Run button: a run with the controls' values, unless one with these values is going or asked for."""
        with self._lock:
            if self._worker is not None and (self._pending or self._going == self.values()):
                self._say("already running with these values: Stop ends it")
                return
        self.request()

    def request(self):
        """What a slider move does: a run with the latest values, one per burst of changes; in the background, or in
        this thread (the kernel's) in the foreground mode."""
        with self._lock:
            self._pending, self._asked_at = True, time.perf_counter()
            if self._control is not None:
                self._control.stop.set()  # the run going now is superseded: it ends at its next step
            if self._worker is not None:
                return
            here = self.mode == "foreground"
            self._worker = threading.current_thread() if here else threading.Thread(target=self._work,
                                                                                    name="panel-run", daemon=True)
            self._set_buttons(running=True)
        if not here:
            return self._worker.start()
        try:
            self._work(settle=False)  # the kernel is busy until the runs asked for end
        finally:  # also when ■ lands between two runs: the panel stays usable
            with self._lock:
                self._worker = self._control = self._going = None
                self._set_buttons(running=False)

    def stop(self, wait=False):
        """End the run going now at its next training step (what was learned is kept and shown); cancel any
        run asked for. With `wait`, return only when the background thread has finished."""
        with self._lock:
            self._pending = False
            if self._control is not None:
                self._control.stop.set()
            worker = self._worker
        if wait and worker is not None and worker is not threading.current_thread():
            worker.join()

    def wait(self, timeout=None):
        """Block until the background runs asked for so far have finished (tests, scripts)."""
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)

    def _work(self, settle=True):
        """The runs' loop (the background thread's): let a burst settle, run with the latest values, again while
        more were asked. The foreground mode runs it in the kernel's thread, where nothing arrives while it sleeps."""
        while True:
            while settle and (quiet := time.perf_counter() - self._asked_at) < self.SETTLE:
                time.sleep(self.SETTLE - quiet)
            with self._lock:
                if not self._pending:
                    self._worker = self._control = self._going = None
                    self._set_buttons(running=False)
                    return
                self._pending = False
                control = self._control = Control(self._progress)
                self._going = self.values()
            self._execute(self._going, control)

    def _set_buttons(self, running):
        """Stop is live while a background run is going; Run stays Run."""
        self.stop_button.disabled = not running

    def _refusal(self, values):
        """A message if a value is outside its control's range, else None."""
        for name, value in values.items():
            control = self.controls[name]
            low, high = getattr(control, "min", None), getattr(control, "max", None)
            if low is not None and not (isinstance(value, (int, float)) and low <= value <= high):
                return f"{name} must be from {low} to {high}, got {value!r}: not run"
        return None

    def _execute(self, values, control, refuse=False):
        """One run with `values` under `control`; shows its result unless a newer request superseded it."""
        unknown = [name for name in values if name not in self.controls]
        if unknown:
            return self._say(f"unknown control {unknown[0]!r}; known: {list(self.controls)}", error=True)
        refusal = self._refusal(values)
        if refusal:
            if refuse:
                raise ValueError(refusal)
            return self._say(refusal, error=True)
        self._started, self._reported, self._estimate, self._first_name = time.perf_counter(), 0.0, None, None
        try:
            self._estimate = self.estimate_fn(values["length"], values["epochs"]) if self.estimate_fn else None
            self._say("running…" + (f" about {self._estimate:.0f} s at most, Stop ends it early"
                                    if self._estimate and self._estimate > self.LONG else ""))
            with controlled(control):
                result = self.run_fn(**values)
            if control.stop.is_set() and self._pending:
                return None  # superseded by newer values: the next run shows its result
            stopped = control.stop.is_set()
            if stopped:  # a Stop: say so at once, draw afterwards
                self._say(f"stopped after {time.perf_counter() - self._started:.1f} s: what the models learned "
                          "so far is shown below as soon as it is drawn")
            with collect_figures() as figures:
                text = self.show_fn(result)
            pngs = [render_png(f) for f in figures]
        except ValueError as err:
            if refuse:
                raise
            return self._say(f"refused: {err}", error=True)
        except (KeyboardInterrupt, Stopped):
            if not self._pending:
                self._say("stopped before anything could be shown: the previous result is kept", error=True)
            return None
        except Exception as err:  # the panel stays usable; the message says what went wrong
            return self._say(f"failed: {type(err).__name__}: {err}", error=True)
        return self._store(result, text, pngs, stopped)

    def _store(self, result, text, pngs, stopped):
        """Keep and show a finished run's result: its figures, its summary text and how long it took."""
        self.result, self.runs, self.figures = result, self.runs + 1, pngs
        self.out.outputs = tuple({"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": png, "text/plain": "<Figure>"}} for png in pngs)
        self.summary.value = f"<pre>{html.escape(text or '')}</pre>"
        seconds = time.perf_counter() - self._started
        self._say(f"stopped after {seconds:.1f} s: what the models learned so far is shown" if stopped
                  else f"done in {seconds:.1f} s")
        return result

    def _progress(self, name, epoch, epochs):
        """A Control's report: one progress line, at most four a second."""
        now = time.perf_counter()
        if now - self._reported < 0.25:
            return
        self._reported = now
        estimate = self._estimate
        if self.estimate_fn is None:  # no estimate given: the first model's epochs so far, extrapolated
            self._first_name = self._first_name or name
            estimate = (now - self._started) * epochs / epoch if name == self._first_name and epoch > 0 else None
        of = f" of about {estimate:.0f} s" if estimate and estimate > self.LONG else ""
        self._say(f"running… {name} epoch {epoch}/{epochs}, {now - self._started:.0f} s{of}")

    def _repr_mimebundle_(self, **kwargs):
        """The live panel, plus a static copy of its last result (text/html) for viewers without the widget
        state: the stored notebooks keep none, so handouts and slides show this copy."""
        return with_static_copy(super()._repr_mimebundle_(**kwargs), self.summary.value, self.figures)

    def _say(self, text, error=False):
        """Show one line in the panel's message area."""
        color = "#b00020" if error else "#555"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"
        self.last_message = text
        return None
