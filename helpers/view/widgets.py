"""The lessons' panels, built on helpers.view.panel.Panel: the amnesia test (notebooks 01, 04), the generative
showdown (notebook 13), and Interact, ipywidgets.interact with a static copy (notebook 08)."""
import html

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.utils.capture import capture_output

from ..lessons.amnesia import EPOCHS, WIDTH, amnesia_test, estimate_seconds
from ..lessons.language import PROMPT, showdown
from .figures_amnesia import show_amnesia
from .figures_language import show_showdown
from .panel import LAYOUT, STYLE, Panel, int_slider, png_text, with_static_copy


def amnesia_panel(length=(3, 200, 20), epochs=(1, 50, EPOCHS), seed=0, device=None, show=show_amnesia, seeds=None,
                  mode=None):
    """The amnesia test behind sliders, (min, max, default) for the length and the epochs, and a size menu: one
    width for all, or widths matched by parameter count; `seeds`, a (min, max) pair, adds a seed slider starting at
    `seed` (notebook 04), else every run draws with `seed`. `show(result)` draws a result and returns its summary
    (default: the curves and the attention; notebook 01 shows the verdicts); `mode` as Panel's. Introduced in
    notebook 01."""
    extra = {"seed": int_slider("seed", *seeds, seed)} if seeds else {}
    extra["size"] = W.Dropdown(options=[(f"same width ({WIDTH})", "width"), ("same parameter count", "params")],
                               value="width", description="size", style=STYLE)
    for name, widget in extra.items():
        widget.add_class(f"panel-{name}")  # hooks for browser tests, like the panel's own controls

    def run(length, epochs, size, seed=seed):
        return amnesia_test(length=length, epochs=epochs, seed=seed, device=device, size=size)
    return Panel(run, show, length=length, epochs=epochs, extra=extra, estimate=estimate_seconds,
                 title="Amnesia test: who remembers the first letter?", mode=mode)


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
    panel = Panel(run, show_showdown, length=length, epochs=epochs, extra=extra,
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
