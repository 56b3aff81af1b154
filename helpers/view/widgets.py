"""Widgets: one reusable panel (sequence-length and epochs sliders, Run and Stop buttons, an output area) and the
lessons' panels built on it: the amnesia test (notebooks 01, 04) and the generative showdown (notebook 13)."""
import base64
import html
import threading
import time

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.core.pylabtools import print_figure
from IPython.utils.capture import capture_output

from ..core.checks import check_int
from ..core.train import Control, Stopped, controlled
from ..lessons.amnesia import EPOCHS, amnesia_test, estimate_seconds
from ..lessons.language import PROMPT, showdown
from .figures import show_amnesia, show_showdown
from .plots import collect_figures


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


class Panel(W.VBox):
    """Sliders for the length and the epochs (and `extra` controls), Run and Stop buttons and an output area around
    `run(length=, epochs=, **extra)`; `show(result)` draws (through helpers.subplots) and returns the summary text;
    `estimate(length, epochs)`, if given, says in seconds about how long a run will take.

    The first run happens in the cell that makes the panel, so a headless execution stores its result; values it
    refuses raise ValueError there. Later runs happen in a background thread and the kernel stays free: a change
    that arrives during a run ends it at the next training step and one run starts with the latest values. Run
    never ends the run it would start (pressed during a run with the same values, it says so and lets it go on);
    Stop ends the run going, keeping what the models learned, and says so before the figures are drawn. Refused
    values leave a message, nothing else. Introduced in notebook 01.
    """

    SETTLE = 0.25  # a run starts once the controls have been still this many seconds: a burst of moves is one run
    LONG = 30      # runs estimated longer than this say so when they start

    def __init__(self, run, show, length=(3, 200, 20), epochs=(1, 50, 10), extra=None, title="", auto_run=True,
                 estimate=None):
        for name, triple in (("length", length), ("epochs", epochs)):
            if not isinstance(triple, (tuple, list)) or len(triple) != 3:
                raise ValueError(f"{name} must be a (min, max, starting value) triple, got {triple!r}")
            low, high, value = triple
            check_int(name, value, low, high)  # a notebook parameter out of range is refused, not clipped
        self.run_fn, self.show_fn, self.estimate_fn = run, show, estimate
        style = {"description_width": "110px"}
        layout = W.Layout(width="520px")
        self.length = W.IntSlider(value=length[2], min=length[0], max=length[1], description="sequence length",
                                  continuous_update=False, style=style, layout=layout)
        self.epochs = W.IntSlider(value=epochs[2], min=epochs[0], max=epochs[1], description="epochs",
                                  continuous_update=False, style=style, layout=layout)
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
        """What a slider move does: a run in the background with the latest values, one per burst of changes."""
        with self._lock:
            self._pending, self._asked_at = True, time.perf_counter()
            if self._control is not None:
                self._control.stop.set()  # the run going now is superseded: it ends at its next step
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="panel-run", daemon=True)
                self._worker.start()
                self._set_buttons(running=True)

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
        if worker is not None:
            worker.join(timeout)

    def _work(self):
        """The background thread: let a burst settle, run with the latest values, again while more were asked."""
        while True:
            while (quiet := time.perf_counter() - self._asked_at) < self.SETTLE:
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

    def _refuse(self, name, value):
        """A message if `value` is outside control `name`'s range, else None."""
        control = self.controls[name]
        low, high = getattr(control, "min", None), getattr(control, "max", None)
        if low is not None and not (isinstance(value, (int, float)) and low <= value <= high):
            return f"{name} must be from {low} to {high}, got {value!r}: not run"
        return None

    def _execute(self, values, control, refuse=False):
        """One run with `values` under `control`; shows its result unless a newer request superseded it."""
        for name, value in values.items():
            if name not in self.controls:
                return self._say(f"unknown control {name!r}; known: {list(self.controls)}", error=True)
            refusal = self._refuse(name, value)
            if refusal:
                if refuse:
                    raise ValueError(refusal)
                return self._say(refusal, error=True)
        self._started, self._reported, self._estimate = time.perf_counter(), 0.0, None
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
        of = f" of about {self._estimate:.0f} s" if self._estimate and self._estimate > self.LONG else ""
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


def amnesia_panel(length=(3, 200, 20), epochs=(1, 50, EPOCHS), seed=0, device=None, show=show_amnesia):
    """The amnesia test behind sliders, (min, max, default) for the length and the epochs, and a size menu: one
    width for all, or widths matched by parameter count; `show(result)` draws a result and returns its summary
    (default: the curves and the attention; notebook 01 shows the verdicts)."""
    size = W.Dropdown(options=[("same width (48)", "width"), ("same parameter count", "params")], value="width",
                      description="size", style={"description_width": "110px"})
    size.add_class("panel-size")

    def run(length, epochs, size):
        return amnesia_test(length=length, epochs=epochs, seed=seed, device=device, size=size)
    return Panel(run, show, length=length, epochs=epochs, extra={"size": size}, estimate=estimate_seconds,
                 title="Amnesia test: who remembers the first letter?")


def showdown_panel(length=(1, 17, 15), epochs=(1, 40, 20), prompt=PROMPT, temperature=0.0, seed=0, device=None):
    """The showdown behind controls: words to generate, epochs, a prompt text box and a temperature slider.
    Introduced in notebook 13."""
    style, layout = {"description_width": "110px"}, W.Layout(width="520px")
    extra = {"prompt": W.Text(value=prompt, description="prompt", continuous_update=False, style=style, layout=layout),
             "temperature": W.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, description="temperature",
                                          continuous_update=False, style=style, layout=layout)}

    def run(length, epochs, prompt, temperature):
        return showdown(prompt, steps=length, epochs=epochs, temperature=temperature, seed=seed, device=device)
    panel = Panel(run, show_showdown, length=length, epochs=epochs, extra=extra,
                  title="Generative showdown: LSTM against Transformer", auto_run=False)
    panel.length.description = "words to write"
    for name, widget in extra.items():
        widget.add_class(f"panel-{name}")  # hooks for browser tests, like the panel's own controls
    panel.run(refuse=True)
    return panel


class Interact(W.VBox):
    """ipywidgets.interact(fn, **controls) that also keeps a static copy of fn's first view, for viewers
    without the widget state (notebook 08)."""

    def __init__(self, fn, **controls):
        with capture_output() as shown:
            fn(**{name: c.value for name, c in controls.items()})
            plt.show()
        self.figures = [png_text(o.data["image/png"]) for o in shown.outputs if "image/png" in o.data]
        self.text = shown.stdout
        super().__init__([W.interactive(fn, **controls)])

    def _repr_mimebundle_(self, **kwargs):
        """The live controls, plus the static copy."""
        return with_static_copy(super()._repr_mimebundle_(**kwargs), f"<pre>{html.escape(self.text)}</pre>", self.figures)
