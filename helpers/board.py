"""The class board from a notebook (notebooks 01, 04, 05): share what an amnesia panel measured, read the class's
runs, and, for the teacher, draw the board's figure, start a new round or delete runs.

Under the course's JupyterHub every kernel has COURSE_BOARD_URL (the board's address, deploy/jupyterhub_config.py)
and JUPYTERHUB_API_TOKEN (its server's token): the board asks the hub whose token it is, so a share is always the
student's own. Elsewhere (a laptop, Binder) there is no board, and `available()` says why. The standard library
only: no matplotlib until `plot` is called.
"""
import json
import os
import threading
import urllib.error
import urllib.request

STEPS_PER_EPOCH = 32  # an amnesia panel's epoch: 32 steps of 64 new strings (helpers.core.tasks.RecallConfig)
GOAL = 0.9            # the board's second figure: training steps to 90% held-out accuracy
TIMEOUT = 5.0         # seconds a request may take before the panel says the board did not answer
# model -> (printed name, colour, marker): the course's palette, as the board's page draws (deploy/board/schema.py)
STYLES = {"rnn": ("Plain RNN", "#999999", "o"), "lstm": ("LSTM", "#D55E00", "s"),
          "lstm_fb1": ("LSTM, forget bias 1", "#882255", "D"), "transformer": ("Transformer", "#0072B2", "^"),
          "lstm_fb3": ("LSTM, forget bias 3", "#9467bd", "X"),
          "lstm_fb1_lr": ("LSTM, forget bias 1, lr 0.01", "#8c564b", "v"), "matrix": ("Matrix memory", "#000000", "P")}
BY_NAME = {name: model for model, (name, _, _) in STYLES.items()}


class BoardError(Exception):
    """The board refused a request or could not be reached; the message says which and why."""


def available():
    """(True, the board's URL) under the course's hub, else (False, one line saying why there is none) (notebook 01)."""
    url, token = os.environ.get("COURSE_BOARD_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    if url and token:
        return True, url
    if token:
        return False, "no class board: this JupyterHub is not the course's (no COURSE_BOARD_URL)"
    return False, ("no class board here: sharing needs the course's JupyterHub "
                   "(this is a laptop, Binder or a plain server)")


def request(method, path="api/runs", body=None, timeout=TIMEOUT):
    """One call to the board's API with this kernel's hub token: the JSON answer, or BoardError with the board's own
    message (notebook 01)."""
    ok, url = available()
    if not ok:
        raise BoardError(url)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            reason = json.loads(err.read()).get("error", err.reason)
        except (ValueError, AttributeError):
            reason = err.reason
        raise BoardError(f"the board refused it (HTTP {err.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise BoardError(f"the board did not answer: {getattr(err, 'reason', err)}") from None


def steps_to(history, goal=GOAL):
    """Training steps until the held-out accuracy first reached `goal`, on the epoch grid, or None (notebook 04)."""
    for epoch, acc in enumerate(history.test_acc):
        if acc >= goal:
            return epoch * STEPS_PER_EPOCH
    return None


def run_record(notebook, model, length, epochs, seed, size, params, history, seconds):
    """One run as the board takes it (deploy/board/schema.py) (notebook 01)."""
    import torch  # loaded already in every kernel that trained
    solved = history.solved_epoch
    return {"notebook": notebook, "model": model, "length": int(length), "epochs": int(epochs), "seed": int(seed),
            "size": size, "params": int(params), "accuracy": round(float(history.test_acc[-1]), 4),
            "solved_epoch": None if solved is None else int(solved), "steps_to_90": steps_to(history),
            "seconds": round(float(seconds), 2), "torch": torch.__version__[:40]}


def runs_of(result, notebook, seed=0):
    """The board's runs of a panel's result, one per model: an AmnesiaResult (01, 04), notebook 05's GradientResult,
    or notebook 14's dict of histories (notebook 01)."""
    if hasattr(result, "runs") and hasattr(result, "variants"):  # notebook 05: each variant trained at ModelConfig()
        return [run_record(notebook, v, result.length, result.epochs, seed, "default", r.params[v], r.history[v],
                           r.seconds[v]) for v, r in result.runs.items()]
    if isinstance(result, dict):  # notebook 14: {"length", "epochs", "histories": {printed name: History}, "params"}
        return [run_record(notebook, BY_NAME[name], result["length"], result["epochs"], seed, "width",
                           result["params"][name], h, h.seconds) for name, h in result["histories"].items()]
    return [run_record(notebook, v, result.length, result.epochs, getattr(result, "seed", seed),
                       getattr(result, "size", "width"), result.params[v], result.history[v], result.seconds[v])
            for v in result.history]


def share(runs, done=None):
    """Send `runs` in a background thread; `done(message, ok)` is called with 'shared …' or why not. Never raises,
    never blocks the caller; returns the thread (notebook 01)."""
    def work():
        try:
            answer = request("POST", body=runs)
            message, ok = (f"shared: {len(answer['stored'])} runs as {answer['student']} "
                           f"(round {answer['round']})", True)
        except BoardError as err:
            message, ok = f"not shared: {err}", False
        except Exception as err:  # the panel stays usable whatever happens here
            message, ok = f"not shared: {type(err).__name__}: {err}", False
        if done is not None:
            done(message, ok)
    thread = threading.Thread(target=work, name="board-share", daemon=True)
    thread.start()
    return thread


def fetch(round=None):
    """The board's runs: {"round", "runs", "students", "models"} (the current round, or `round`) (notebook 01)."""
    return request("GET", "api/runs" + ("" if round is None else f"?round={int(round)}"))


def new_round():
    """The teacher: start a new round (earlier runs stay stored, the board shows the new one); its number."""
    return request("POST", "api/rounds", body={})["round"]


def delete(run_id=None):
    """The teacher: delete one run by its id, or with None every run of the current round; how many went."""
    return request("DELETE", "api/runs" + ("" if run_id is None else f"/{int(run_id)}"))["deleted"]


def plot(data=None, ax=None):
    """The board's figure with the course's plotting: held-out accuracy against length, one dot per run, one colour
    and marker per model, a line through each model's median per length; `data` from fetch() (default: fetch now)."""
    import statistics

    from .view.plots import subplots
    data = fetch() if data is None else data
    if ax is None:
        _, ax = subplots(figsize=(8, 4.5))
    for model, (name, colour, marker) in STYLES.items():
        mine = [r for r in data["runs"] if r["model"] == model]
        if not mine:
            continue
        ax.scatter([r["length"] for r in mine], [r["accuracy"] for r in mine], color=colour, marker=marker, s=50,
                   edgecolors="#222", linewidths=0.5, label=name, zorder=3)
        lengths = sorted({r["length"] for r in mine})
        ax.plot(lengths, [statistics.median(r["accuracy"] for r in mine if r["length"] == L) for L in lengths],
                color=colour, lw=2, alpha=0.9)
    ax.set(xlabel="sequence length", ylabel="held-out accuracy", ylim=(0, 1.05),
           title=f"Class board, round {data['round']}: {len(data['runs'])} runs from {data['students']} students")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax
