"""The check engine: an exercise is declared once (its reference, a generator of random inputs, its hints in order),
and check(fn) runs a student's function on random inputs against that reference, printing one line. Never raises at
the student: whatever the function does becomes that line. The exercises themselves are in recurrence.py,
attention.py and language.py beside this module. Introduced in notebook 01.

A hint is (predicate(out, ref, args), (tamil, english)): the first predicate that holds for a wrong answer gives the
line the student reads. Predicates compare the answer with a typical mistake, never show the solution.
"""
import numbers
import threading
import warnings
from dataclasses import dataclass, field, replace
from collections.abc import Callable

import numpy as np
import torch

TRIALS = 3  # random inputs per check


@dataclass
class Exercise:
    """One exercise: its reference, random inputs and the hints for wrong answers, in order."""
    name: str
    notebook: str                 # where it is introduced, e.g. "08"
    reference: Callable
    inputs: Callable              # torch.Generator -> tuple of arguments
    against: str                  # what the reference is, for the passing line
    shape: object = None          # the output's shape in words, e.g. "(B, T, T)" (a tuple of them for tuple outputs)
    hints: list = field(default_factory=list)   # [(predicate(out, ref, args) -> bool, (tamil, english))]
    errors: list = field(default_factory=list)  # [(text in the exception's message, (tamil, english))]
    rtol: float = 1e-4
    atol: float = 1e-5


EXERCISES = {}


def exercise(notebook, inputs, against, shape=None, hints=(), errors=(), **tol):
    """Decorator: declare the decorated reference function as the exercise of the same name."""
    def register(reference):
        EXERCISES[reference.__name__] = Exercise(reference.__name__, notebook, reference, inputs, against, shape,
                                                 list(hints), list(errors), **tol)
        return reference
    return register


# ---------------------------------------------------------------------------------------------- comparing outputs

def as_tensor(x):
    """x as a detached tensor (from a tensor, a NumPy array, a number or a list of numbers), else None."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, (np.ndarray, np.generic, numbers.Number)) and not isinstance(x, str):
        try:
            return torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError):
            return None
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (numbers.Number, torch.Tensor, np.generic)) for v in x):
        try:
            return torch.as_tensor([float(v) for v in x])
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def same(out, ref, rtol=1e-4, atol=1e-5):
    """True when out equals ref: same structure and shape, values within torch.testing.assert_close's tolerances."""
    if isinstance(ref, (tuple, list)) and not _numeric_list(ref):
        return (isinstance(out, (tuple, list)) and len(out) == len(ref)
                and all(same(o, r, rtol, atol) for o, r in zip(out, ref)))
    o, r = as_tensor(out), as_tensor(ref)
    if o is None or r is None or o.shape != r.shape:
        return False
    if r.dtype == torch.bool:
        return o.dtype == torch.bool and torch.equal(o, r)
    if o.dtype == torch.bool or o.is_complex():
        return False
    if not r.is_floating_point():  # counts: exactly
        return bool(torch.equal(o.double(), r.double()))
    try:
        torch.testing.assert_close(o.double(), r.double(), rtol=rtol, atol=atol, check_dtype=False)
    except AssertionError:
        return False
    return True


def _numeric_list(x):
    return all(isinstance(v, numbers.Number) for v in x)


def rows_sum_to_one(out):
    """True when out is a tensor whose rows (last dimension) sum to 1."""
    o = as_tensor(out)
    if o is None or o.dim() == 0 or o.is_complex():
        return False
    return bool(torch.allclose(o.double().sum(-1), torch.ones(()).double(), atol=1e-4))


# ------------------------------------------------------------------------------------------------------- the check

DONE, NOT_DONE, WRONG = "done", "not done", "wrong"


def line(name, tamil, english, mark="✗"):
    """The one line a check prints."""
    return f"{mark} {name}: {tamil} / {english}"


def _shape_words(shape, r):
    return f"{shape} = {tuple(r.shape)}" if shape else f"{tuple(r.shape)}"


def _generic(ex, out, ref):
    """What is wrong when no hint of the exercise matched: the type, the shape, nan, or the largest difference."""
    if isinstance(ref, (tuple, list)) and not _numeric_list(ref):
        if not isinstance(out, (tuple, list)) or len(out) != len(ref):
            what = f"{type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
            return (f"{len(ref)} மதிப்புகள் கொண்ட ஒரு tuple வேண்டும், கிடைத்தது {what}",
                    f"a tuple of {len(ref)} values expected, got {what}")
        shapes = ex.shape if isinstance(ex.shape, tuple) else (None,) * len(ref)
        for k, (o, r, s) in enumerate(zip(out, ref, shapes)):
            if not same(o, r, ex.rtol, ex.atol):
                ta, en = _generic(replace(ex, shape=s), o, r)
                return f"மதிப்பு {k + 1}: {ta}", f"value {k + 1}: {en}"
    o, r = as_tensor(out), as_tensor(ref)
    if o is None:
        want = "a number" if r.dim() == 0 else "a tensor or array"
        return (f"{type(out).__name__} கிடைத்தது; எதிர்பார்த்தது ஒரு எண் அல்லது tensor",
                f"{want} expected, got {type(out).__name__}")
    if o.shape != r.shape:
        return (f"shape {_shape_words(ex.shape, r)} வேண்டும், கிடைத்தது {tuple(o.shape)}",
                f"shape {_shape_words(ex.shape, r)} expected, got {tuple(o.shape)}")
    if r.dtype == torch.bool and o.dtype != torch.bool:
        return (f"True/False (bool) மதிப்புகள் வேண்டும், கிடைத்தது {o.dtype}: .bool() பயன்படுத்துங்கள்",
                f"True/False (bool) values expected, got {o.dtype}: use .bool()")
    if o.dtype != torch.bool and not torch.isfinite(o.double()).all():
        return ("உங்கள் பதிலில் nan அல்லது inf உள்ளது", "your output contains nan or inf")
    diff = (o.double() - r.double()).abs()
    where = tuple(int(i) for i in np.unravel_index(int(diff.argmax()), tuple(diff.shape))) if diff.dim() else ()
    at = f" at {list(where)}" if where else ""
    return (f"மதிப்புகள் {ex.against}-இலிருந்து வேறுபடுகின்றன (அதிகபட்ச வேறுபாடு {diff.max().item():.3g}{at})",
            f"the values differ from {ex.against} (largest difference {diff.max().item():.3g}{at})")


def _copy(args):
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a.copy() if isinstance(a, np.ndarray) else a
                 for a in args)


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0][:160] if text else ""


def diagnose(ex, fn, trials=TRIALS):
    """Run fn against the reference on `trials` random inputs -> (DONE / NOT_DONE / WRONG, tamil, english)."""
    if threading.current_thread() is not threading.main_thread():
        return _diagnose(ex, fn, trials)  # catch_warnings changes the whole process: never from a background run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning would land in the cell's output (stderr), beside the one line
        return _diagnose(ex, fn, trials)


def _diagnose(ex, fn, trials):
    for trial in range(trials):
        args = ex.inputs(torch.Generator().manual_seed(1234 + trial))
        ref = ex.reference(*_copy(args))
        try:
            out = fn(*_copy(args))
        except NotImplementedError:
            return NOT_DONE, "இன்னும் முடிக்கவில்லை", "not done yet"
        except Exception as e:  # noqa: BLE001 -- whatever the student's code raises becomes one line
            for text, (ta, en) in ex.errors:
                if text in str(e):
                    return WRONG, ta, en
            return (WRONG, f"உங்கள் function {type(e).__name__} எழுப்பியது: {_first_line(e)}",
                    f"your function raised {type(e).__name__}: {_first_line(e)}")
        if out is Ellipsis:
            return NOT_DONE, "இன்னும் முடிக்கவில்லை", "not done yet"
        if out is None:
            return (NOT_DONE, "இன்னும் முடிக்கவில்லை: function எதையும் திருப்பித் தரவில்லை (return விடுபட்டதா?)",
                    "not done yet: the function returns None (a missing return?)")
        if same(out, ref, ex.rtol, ex.atol):
            continue
        for predicate, (ta, en) in ex.hints:
            try:
                hit = predicate(out, ref, _copy(args))
            except Exception:  # noqa: BLE001 -- a hint that does not apply to this output
                hit = False
            if hit:
                return WRONG, ta, en
        return (WRONG, *_generic(ex, out, ref))
    return (DONE, f"சரி! {trials} random input-களிலும் பொருந்துகிறது",
            f"passed: matches {ex.against} on {trials} random inputs")


def _lookup(name):
    """The Exercise named `name`, or a ValueError listing the exercises."""
    if name not in EXERCISES:
        raise ValueError(f"name: unknown exercise {name!r}; the exercises are {', '.join(sorted(EXERCISES))}")
    return EXERCISES[name]


def _exercise(fn, name):
    """The Exercise that `fn` answers: `name`, or fn's own name by default."""
    if not callable(fn):
        raise ValueError(f"fn: a function expected, got {type(fn).__name__}")
    return _lookup(name if name is not None else getattr(fn, "__name__", None))


def check(fn, name=None, quiet=False):
    """Check fn against the exercise `name` (fn's own name by default): print one line, return True when it passes.
    Never raises: something that is not a function, or a name no exercise has, is said in that line."""
    try:
        ex = _exercise(fn, name)
    except ValueError:
        if not callable(fn):
            ta, en = (f"check-க்கு ஒரு function தேவை, கிடைத்தது {type(fn).__name__}",
                      f"check needs a function, got {type(fn).__name__}")
        else:
            shown = name if name is not None else getattr(fn, "__name__", "?")
            ta, en = (f"'{shown}' என்ற பெயரில் exercise இல்லை: "
                      "exercise-இன் பெயரிலேயே function-ஐ எழுதுங்கள், அல்லது name= கொடுங்கள்",
                      f"no exercise is named '{shown}': define the function under the exercise's name, or pass name=")
        if not quiet:
            print(line("check", ta, en, mark="✗"))
        return False
    try:
        verdict, ta, en = diagnose(ex, fn)
    except Exception as e:  # noqa: BLE001 -- an answer so odd that comparing it failed: still one line
        verdict, ta, en = (WRONG, f"உங்கள் பதிலை ஒப்பிட முடியவில்லை ({type(e).__name__})",
                           f"your answer could not be compared ({type(e).__name__}: {_first_line(e)})")
    if not quiet:
        print(line(ex.name, ta, en, mark={DONE: "✓", NOT_DONE: "…", WRONG: "✗"}[verdict]))
    return verdict == DONE


def use(fn, name=None):
    """fn when it passes its check, else the exercise's reference: later cells run either way."""
    return fn if check(fn, name, quiet=True) else _exercise(fn, name).reference


def reference(name):
    """The reference function of the exercise `name`."""
    return _lookup(name).reference


# ------------------------------------------------------------------------------------ for declaring exercises

def randint(gen, lo, hi):
    """A random int in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def randn(gen, *shape, scale=1.0):
    """A tensor of `shape` drawn from N(0, scale²) with `gen`."""
    return torch.randn(*shape, generator=gen) * scale


# -- shared hints for a fraction (accuracy) -----------------------------------------------------------------------

def fraction_hints(n_of):
    """Hints for an accuracy: per-item instead of the mean, a percentage, a count. n_of(args) = number of items."""
    return [
        (lambda out, ref, a: torch.as_tensor(out).dim() == 1,
         ("ஒரே ஒரு எண் வேண்டும்: batch முழுவதும் சராசரி (mean) எடுத்தீர்களா?",
          "one number expected: did you take the mean over the batch?")),
        (lambda out, ref, a: ref > 0 and same(out, ref * 100),
         ("இது சதவீதம்: 0-க்கும் 1-க்கும் இடையிலான பின்னம் (fraction) வேண்டும்",
          "that is a percentage: a fraction between 0 and 1 expected")),
        (lambda out, ref, a: ref > 0 and same(out, ref * n_of(a)),
         ("இது எண்ணிக்கை (count): மொத்த string-களின் எண்ணிக்கையால் வகுங்கள்",
          "that is a count: divide by the number of strings")),
    ]
