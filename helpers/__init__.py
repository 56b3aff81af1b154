"""helpers: the shared code of the course "From LSTM to Transformer"."""
from .tasks import LETTERS, MAX_LENGTH, RecallConfig, FirstLetterRecall, encode, decode, check_int
from .models import (attention, causal_mask, LSTMCell, ModelConfig, RNNModel, LSTMModel,
                     TransformerModel, MultiHeadAttention, build_model)
from .device import pick_device, device_name, time_call, time_devices, Timing, NO_GPU
from .train import TrainConfig, History, train, evaluate, seed_everything, time_training_steps, MAX_EPOCHS
from .experiments import amnesia_test, AmnesiaResult, time_training_step, KINDS, NAMES
from .plots import plot_history, attention_heatmap, show_amnesia, position_labels
from .corpus import tokenize, load_sentences, Vocab, NextWord, corpus_task, CORPUS_DIR


def __getattr__(name):
    """Panel and amnesia_panel load ipywidgets on first use, so recording scripts run without it."""
    if name in ("Panel", "amnesia_panel"):
        from . import widgets
        return getattr(widgets, name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
