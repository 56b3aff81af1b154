"""helpers: the shared code of the course "From LSTM to Transformer".

    helpers.core      tasks, models, training, timing, counting (torch only: no matplotlib, no ipywidgets)
    helpers.lessons   one module per experiment family: amnesia, proof, memory, bottleneck, anatomy, learning, race,
                      scaling, language, selection, linear
    helpers.view      plots (generic), figures_* (one per lesson), panel (the Panel), widgets (the lessons' panels)
    helpers.record    the one recorder: python -m helpers.record {race,scaling,amnesia,bottleneck,linear}

The names below are the ones every notebook uses; the rest is imported from its module.
"""
import os
import sys

from .core.checks import as_stored, check_int, check_parameters
from .core.corpus import CORPUS_DIR, NextWord, Vocab, corpus_task, load_sentences, tokenize
from .core.models import (LSTMCell, LSTMModel, ModelConfig, MultiHeadAttention, RNNModel, TransformerModel, attention,
                          build_model, causal_mask)
from .core.tasks import LETTERS, MAX_LENGTH, MIN_LENGTH, LetterRecall, RecallConfig, decode, encode
from .core.timing import (NO_GPU, THREADS, Timing, device_name, pick_device, threads, time_call, time_devices,
                          use_thread_policy)
from .core.train import (MAX_EPOCHS, Control, History, TrainConfig, cache_finished, controlled, evaluate, mark_cut,
                         seed_everything, seeded, side_by_side, time_training_step, train, train_kinds)
from .lessons.amnesia import (CHANCE, CONTESTANTS, KINDS, NAMES, AmnesiaResult, amnesia_test, estimate_seconds,
                              time_recall_step)

VIEW = {"Panel": "panel", "amnesia_panel": "widgets", "showdown_panel": "widgets",  # name -> its helpers.view module
        "show_amnesia": "figures", "plot_history": "plots", "attention_heatmap": "plots", "position_labels": "plots",
        "subplots": "plots", "show": "plots", "collect_figures": "plots"}

__all__ = [
    "check_int", "CORPUS_DIR", "NextWord", "Vocab", "corpus_task", "load_sentences", "tokenize", "LSTMCell",
    "LSTMModel", "ModelConfig", "MultiHeadAttention", "RNNModel", "TransformerModel", "attention", "build_model",
    "causal_mask", "LETTERS", "MAX_LENGTH", "LetterRecall", "RecallConfig", "decode", "encode", "NO_GPU",
    "THREADS", "Timing", "device_name", "pick_device", "threads", "time_call", "time_devices", "MAX_EPOCHS",
    "Control", "History", "TrainConfig", "cache_finished", "controlled", "evaluate", "seed_everything", "seeded",
    "side_by_side", "time_training_step", "train", "train_kinds", "CONTESTANTS", "KINDS", "NAMES", "AmnesiaResult",
    "amnesia_test", "estimate_seconds", "time_recall_step", "Panel", "amnesia_panel", "showdown_panel",
    "show_amnesia", "plot_history", "attention_heatmap", "position_labels", "subplots", "show", "collect_figures",
    "check_parameters", "MIN_LENGTH", "mark_cut", "CHANCE", "as_stored"
]  # every name above, and the VIEW names loaded on first use

use_thread_policy()  # one thread: the same numbers on any machine, no collapse on a shared CPU (README)
# make test, make execute: every figure shown is checked for text under 10 pt (helpers.view.audit); only where
# pyplot is already loaded (a notebook's kernel), so that the recorder still runs with torch and NumPy alone
if os.environ.get("COURSE_FIGURE_AUDIT", "") not in ("", "0") and sys.modules.get("matplotlib.pyplot"):
    from .view import audit
    audit.install()


def __getattr__(name):
    """The VIEW names load matplotlib and ipywidgets on first use: the recorder runs with torch and NumPy alone."""
    if name in VIEW:
        import importlib
        return getattr(importlib.import_module(f".view.{VIEW[name]}", __name__), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
