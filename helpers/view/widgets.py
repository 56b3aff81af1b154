"""The lessons' panels, built on helpers.view.panel.Panel: the amnesia test (notebooks 01, 04), the generative
showdown (notebook 13), Interact, ipywidgets.interact with a static copy (notebook 08), and the Share button of the
class board (notebooks 01, 04, 05)."""
import html

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.utils.capture import capture_output

from .. import board
from ..lessons.amnesia import EPOCHS, WIDTH, amnesia_test, estimate_seconds
from ..lessons.language import PROMPT, showdown
from ..lessons.language import estimate_seconds as showdown_seconds
from .figures_amnesia import show_amnesia
from .figures_language import show_showdown
from .panel import LAYOUT, STYLE, Panel, int_slider, png_text, with_static_copy


PANEL_EVAL_STRINGS = 128  # the panel checks its models on 128 held-out strings while training, on all 512 at the end


def amnesia_panel(length=(3, 200, 20), epochs=(1, 50, EPOCHS), seed=0, device=None, show=show_amnesia, seeds=None,
                  notebook=None, mode=None):
    """The amnesia test behind sliders, (min, max, default) for the length and the epochs, and a size menu: one
    width for all, or widths matched by parameter count; `seeds`, a (min, max) pair, adds a seed slider starting at
    `seed` (notebook 04), else every run draws with `seed`. `show(result)` draws a result and returns its summary
    (default: the curves and the attention; notebook 01 shows the verdicts). With `notebook` ("01", "04") the panel
    gets the class board's Share button (share_bar); `mode` as Panel's. Introduced in notebook 01."""
    extra = {"seed": int_slider("seed", *seeds, seed)} if seeds else {}
    extra["size"] = W.Dropdown(options=[(f"same width ({WIDTH})", "width"), ("same parameter count", "params")],
                               value="width", description="size", style=STYLE)
    for name, widget in extra.items():
        widget.add_class(f"panel-{name}")  # hooks for browser tests, like the panel's own controls

    def run(length, epochs, size, seed=seed):
        return amnesia_test(length=length, epochs=epochs, seed=seed, device=device, size=size,
                            eval_strings=PANEL_EVAL_STRINGS)
    panel = Panel(run, show, length=length, epochs=epochs, extra=extra, estimate=estimate_seconds,
                  title="Amnesia test: who remembers the first letter?", mode=mode)
    if notebook is not None:
        share_bar(panel, notebook, seed)
    return panel


class ShareBar(W.HBox):
    """The class board's Share button under a panel: it sends the panel's last result in the background and says
    "shared" or why not; without the course's hub, no button, one line saying why (notebooks 01, 04, 05)."""

    def __init__(self, panel, notebook, seed=0):
        self.panel, self.notebook, self.seed = panel, notebook, seed
        self.message = W.HTML()
        self.last_message = ""
        ok, why = board.available()
        self.button = W.Button(description="Share", icon="share", tooltip="send the last result to the class board")
        self.button.add_class("panel-share")
        self.button.on_click(lambda _: self.press())
        self.message.add_class("panel-share-message")
        self._say("" if ok else why)
        super().__init__([self.button, self.message] if ok else [self.message])

    def press(self):
        """Share the panel's last finished result, in the background; the button waits for the answer."""
        result = self.panel.result
        if result is None:
            return self._say("nothing to share yet: run the panel first", error=True)
        try:
            runs = board.runs_of(result, self.notebook, self.seed)
        except (KeyError, AttributeError, TypeError, ValueError) as err:
            return self._say(f"not shared: this result cannot be read ({type(err).__name__}: {err})", error=True)
        self.button.disabled = True
        self._say(f"sharing {len(runs)} runs (length {runs[0]['length']})…")
        return board.share(runs, done=self._done)

    def _done(self, message, ok):
        self.button.disabled = False
        self._say(message, error=not ok)

    def _say(self, text, error=False):
        color = "#b00020" if error else "#555"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"
        self.last_message = text


def share_bar(panel, notebook, seed=0):
    """Put the class board's ShareBar under `panel`'s message line (notebooks 01, 04, 05); returns the bar."""
    bar = ShareBar(panel, notebook, seed)
    children = list(panel.children)
    children.insert(children.index(panel.message) + 1, bar)
    panel.children = tuple(children)
    panel.share_bar = bar
    return bar


def showdown_panel(length=(1, 17, 15), epochs=(1, 40, 20), prompt=PROMPT, temperature=0.0, seed=0, device=None,
                   mode=None):
    """The showdown behind controls: words to generate, epochs, a prompt text box and a temperature slider; `mode`
    as Panel's. Introduced in notebook 13."""
    extra = {"prompt": W.Text(value=prompt, description="prompt", continuous_update=False, style=STYLE,
                              layout=W.Layout(**LAYOUT)),
             "temperature": W.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, description="temperature",
                                          continuous_update=False, style=STYLE, layout=W.Layout(**LAYOUT))}

    def run(length, epochs, prompt, temperature):
        return showdown(prompt, steps=length, epochs=epochs, temperature=temperature, seed=seed, device=device)
    panel = Panel(run, show_showdown, length=length, epochs=epochs, extra=extra, estimate=showdown_seconds,
                  title="Generative showdown: LSTM against Transformer", auto_run=False, mode=mode)
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
        return with_static_copy(super()._repr_mimebundle_(**kwargs), f"<pre>{html.escape(self.text)}</pre>",
                                self.figures)
