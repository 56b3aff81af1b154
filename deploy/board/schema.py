"""What the class board accepts: one shared run of an amnesia panel, checked field by field against the panels' own
limits (notebooks 01, 04, 05, 14). Anything else is refused with a message naming the field and its range."""
import json
import math
import re

MAX_BYTES = 4096      # a share's body: a few runs of about 250 bytes each
MAX_RUNS = 8          # runs in one share (a panel shares one per model)
NOTEBOOKS = ("01", "04", "05", "14")
# model -> (printed name, colour, marker): the course's palette (helpers/view/plots.py, figures_amnesia.py,
# figures_linear.py), one marker each; helpers.board draws with the same (a test checks they agree)
STYLES = {"rnn": ("Plain RNN", "#999999", "o"), "lstm": ("LSTM", "#D55E00", "s"),
          "lstm_fb1": ("LSTM, forget bias 1", "#882255", "D"), "transformer": ("Transformer", "#0072B2", "^"),
          "lstm_fb3": ("LSTM, forget bias 3", "#9467bd", "X"),
          "lstm_fb1_lr": ("LSTM, forget bias 1, lr 0.01", "#8c564b", "v"),
          "matrix": ("Matrix memory", "#000000", "P")}
MODELS = tuple(STYLES)
SIZES = ("width", "params", "default")  # the size menu of notebooks 01, 04; 05 and 14 train at one size
STEPS_PER_EPOCH = 32                    # 2048 new strings per epoch, 64 per step, in every amnesia panel
IGNORED = ("student",)                  # the hub says who the student is: a name in the payload is dropped
INTS = {"length": (3, 200), "epochs": (1, 50), "seed": (0, 2**31 - 1), "params": (1, 10**8)}
FLOATS = {"accuracy": (0.0, 1.0), "seconds": (0.0, 86400.0)}
TORCH = re.compile(r"^[0-9A-Za-z.+_-]{1,40}$")
FIELDS = ("notebook", "model", *INTS, "size", *FLOATS, "solved_epoch", "steps_to_90", "torch")


def _int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _choice(name, value, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def check_run(run):
    """One run as the board stores it (FIELDS, in order), or a ValueError naming the first bad field."""
    if not isinstance(run, dict):
        raise ValueError(f"a run must be a JSON object, got {type(run).__name__}")
    unknown = sorted(set(run) - set(FIELDS) - set(IGNORED))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; a run has {list(FIELDS)}")
    missing = [f for f in FIELDS if f not in run and f not in ("solved_epoch", "steps_to_90")]
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    out = {"notebook": _choice("notebook", run["notebook"], NOTEBOOKS), "model": _choice("model", run["model"], MODELS)}
    for name, (low, high) in INTS.items():
        out[name] = _int(name, run[name], low, high)
    out["size"] = _choice("size", run["size"], SIZES)
    for name, (low, high) in FLOATS.items():
        value = run[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
        out[name] = float(value)
    solved, steps = run.get("solved_epoch"), run.get("steps_to_90")
    out["solved_epoch"] = None if solved is None else _int("solved_epoch", solved, 0, out["epochs"])
    out["steps_to_90"] = None if steps is None else _int("steps_to_90", steps, 0, out["epochs"] * STEPS_PER_EPOCH)
    if not isinstance(run["torch"], str) or not TORCH.match(run["torch"]):
        raise ValueError(f"torch must be a version such as 2.13.0+cpu (at most 40 characters), got {run['torch']!r}")
    out["torch"] = run["torch"]
    return out


def parse_share(body):
    """A share's body (bytes): one run (a JSON object) or a list of 1 to MAX_RUNS; its checked runs, or a
    ValueError saying why not."""
    if len(body) > MAX_BYTES:
        raise ValueError(f"a share must be at most {MAX_BYTES} bytes, got {len(body)}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"a share must be JSON: {err}") from None
    runs = data if isinstance(data, list) else [data]
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"a share must hold from 1 to {MAX_RUNS} runs, got {len(runs)}")
    return [check_run(r) for r in runs]
