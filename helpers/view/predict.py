"""Predict, then run: the class answers a question before an experiment, and the measured answer is revealed after
it, beside each prediction (notebook 01; one question in every notebook)."""
import html

import ipywidgets as W


def _check_text(name, value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


class Predict(W.VBox):
    """A question and its options as toggle buttons; `reveal(answer, why)` later shows the measured answer and
    whether the choice made here was right (notebook 01)."""

    def __init__(self, question, options):
        _check_text("question", question)
        options = list(options) if isinstance(options, (list, tuple)) else options
        if not isinstance(options, list) or len(options) < 2:
            raise ValueError(f"options must be a list of at least 2 answers, got {options!r}")
        for o in options:
            _check_text("each option", o)
        if len(set(options)) != len(options):
            raise ValueError(f"options must be different from each other, got {options!r}")
        self.question, self.options = question, options
        self.choice = W.ToggleButtons(options=options, value=None, style={"button_width": "auto"})
        self.choice.add_class("predict-choice")
        self.note = W.HTML("<i>choose before you run the experiment</i>")
        self.choice.observe(self._chosen, names="value")
        self.reveals = []
        super().__init__([W.HTML(f"<b>{html.escape(question)}</b>"), self.choice, self.note])

    @property
    def value(self):
        """The option chosen, or None."""
        return self.choice.value

    def _chosen(self, change):
        self.note.value = f"your prediction: <b>{html.escape(change['new'])}</b>" if change["new"] else ""
        for r in self.reveals:
            r.update()

    def reveal(self, answer, why=""):
        """The measured `answer` (one of the options) and `why` (the numbers it rests on), shown beside the
        prediction; it follows the prediction if that changes later."""
        if answer not in self.options:
            raise ValueError(f"answer must be one of {self.options}, got {answer!r}")
        if not isinstance(why, str):
            raise ValueError(f"why must be a string, got {why!r}")
        r = Reveal(self, answer, why)
        self.reveals.append(r)
        return r

    def _repr_mimebundle_(self, **kwargs):
        """The live buttons, plus a static copy (the question and its options) for viewers without widgets."""
        bundle = super()._repr_mimebundle_(**kwargs)
        items = "".join(f"<li>{html.escape(o)}</li>" for o in self.options)
        bundle["text/html"] = f'<div class="predict-static"><b>{html.escape(self.question)}</b><ul>{items}</ul></div>'
        bundle["text/plain"] = f"{self.question} " + " / ".join(self.options)
        return bundle


class Reveal(W.HTML):
    """The measured answer of a Predict, and the verdict on the prediction made there (notebook 01)."""

    def __init__(self, predict, answer, why):
        self.predict, self.answer, self.why = predict, answer, why
        super().__init__()
        self.add_class("predict-reveal")
        self.update()

    @property
    def right(self):
        """True or False once a prediction is made, else None."""
        return None if self.predict.value is None else self.predict.value == self.answer

    def text(self):
        """The reveal as one line of text."""
        line = f"Measured: {self.answer}" + (f" ({self.why})" if self.why else "") + "."
        if self.right is None:
            return line + " No prediction was chosen above."
        return line + f" Your prediction, {self.predict.value}, was " + ("right." if self.right else "not.")

    def update(self):
        """Redraw after the prediction changed."""
        self.value = html.escape(self.text())

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = f'<div class="predict-reveal-static">{html.escape(self.text())}</div>'
        bundle["text/plain"] = self.text()
        return bundle


def predict(question, options):
    """A Predict widget: ask `question` with `options` before an experiment; call .reveal(answer, why) after it
    (notebook 01)."""
    return Predict(question, options)
