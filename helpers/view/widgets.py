"""Widgets: one reusable panel (sequence-length and epochs sliders, a Run button, an output area) and the
lessons' panels built on it: the amnesia test (notebooks 01, 04) and the generative showdown (notebook 13)."""
import base64
import html
import time

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import clear_output
from IPython.utils.capture import capture_output

from ..lessons.amnesia import amnesia_test
from ..lessons.language import PROMPT, showdown
from .figures import show_amnesia, show_showdown


def with_static_copy(bundle, html_text, pngs):
    """A widget's display bundle plus text/html holding `html_text` and the PNGs: what a viewer without the
    widget state (a handout, a slide, the stored notebook) shows instead of the live widget (notebook 01)."""
    images = "".join(f'<img src="data:image/png;base64,{png}"/>' for png in pngs)
    return {**bundle, "text/html": f'<div class="panel-static">{html_text}{images}</div>'}


def png_text(png):
    """A PNG as base64 text, whether IPython handed it over as bytes or already as text (notebook 01)."""
    return base64.b64encode(png).decode("ascii") if isinstance(png, bytes) else png


class Panel(W.VBox):
    """Runs `run(length=, epochs=, **extra)` at once and again on every change; `show(result)` draws
    into the output area and returns the summary text. Refused values leave a message, nothing else.
    Introduced in notebook 01."""

    def __init__(self, run, show, length=(2, 200, 20), epochs=(1, 50, 10), extra=None, title="", auto_run=True):
        self.run_fn, self.show_fn = run, show
        style = {"description_width": "110px"}
        layout = W.Layout(width="520px")
        self.length = W.IntSlider(value=length[2], min=length[0], max=length[1], description="sequence length",
                                  continuous_update=False, style=style, layout=layout)
        self.epochs = W.IntSlider(value=epochs[2], min=epochs[0], max=epochs[1], description="epochs",
                                  continuous_update=False, style=style, layout=layout)
        self.controls = {"length": self.length, "epochs": self.epochs, **(extra or {})}
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.message = W.HTML()
        self.summary = W.HTML()
        self.out = W.Output()
        self.result, self.runs, self.last_message, self.figures = None, 0, "", []
        for name, widget in [("length", self.length), ("epochs", self.epochs), ("run", self.button),
                             ("message", self.message), ("summary", self.summary)]:
            widget.add_class(f"panel-{name}")  # stable hooks for the browser tests
        for control in self.controls.values():
            control.observe(lambda change: self.run(), "value")
        self.button.on_click(lambda _: self.run())
        header = [W.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(header + list(self.controls.values()) + [self.button, self.message, self.summary, self.out])
        if auto_run:
            self.run()

    @property
    def text(self):
        """The summary of the last successful run, as plain text."""
        return html.unescape(self.summary.value.removeprefix("<pre>").removesuffix("</pre>"))

    def _refuse(self, name, value):
        """A message if `value` is outside control `name`'s range, else None."""
        control = self.controls[name]
        low, high = getattr(control, "min", None), getattr(control, "max", None)
        if low is not None and not (isinstance(value, (int, float)) and low <= value <= high):
            return f"{name} must be from {low} to {high}, got {value!r}: not run"
        return None

    def run(self, **values):
        """Run the experiment with the controls' values (overridden by `values`); return its result."""
        values = {name: c.value for name, c in self.controls.items()} | values
        for name, value in values.items():
            if name not in self.controls:
                return self._say(f"unknown control {name!r}; known: {list(self.controls)}", error=True)
            refusal = self._refuse(name, value)
            if refusal:
                return self._say(refusal, error=True)
        self.button.disabled = True
        self._say("running…")
        start = time.perf_counter()
        try:
            with self.out:
                clear_output(wait=True)
                result = self.run_fn(**values)
                with capture_output() as shown:  # kept as PNGs too, for the static copy below
                    text = self.show_fn(result)
                    plt.show()
                shown.show()
        except ValueError as err:
            return self._say(f"refused: {err}", error=True)
        except KeyboardInterrupt:
            return self._say("stopped before the end: the previous result is kept", error=True)
        finally:
            self.button.disabled = False
        self.result, self.runs = result, self.runs + 1
        self.figures = [png_text(o.data["image/png"]) for o in shown.outputs if "image/png" in o.data]
        self.summary.value = f"<pre>{html.escape(text or '')}</pre>"
        self._say(f"done in {time.perf_counter() - start:.1f} s")
        return result

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


def amnesia_panel(length=(2, 200, 20), epochs=(1, 50, 10), seed=0, device=None):
    """The amnesia test behind sliders: (min, max, default) for the length and the epochs (notebook 01)."""
    def run(length, epochs):
        return amnesia_test(length=length, epochs=epochs, seed=seed, device=device, progress=True)
    return Panel(run, show_amnesia, length=length, epochs=epochs, title="Amnesia test: who remembers the first letter?")


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
    panel.run()
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
