"""Memory (notebooks 02, 03, 06 and 08): how many letters a recall model holds, how long a changed first
letter still moves an LSTM's state, and the small Transformer that recalls it."""
import torch

from ..core.models import TransformerModel
from ..core.tasks import CHANCE, LETTERS, LetterRecall, RecallConfig
from ..core.train import TrainConfig, seeded, train


def letters_held(acc_per_k):
    """Letters recalled above chance, summed over k: Σ (acc_k − 1/26) / (1 − 1/26) (notebook 02)."""
    return ((torch.as_tensor(acc_per_k) - CHANCE) / (1 - CHANCE)).sum().item()


@torch.no_grad()
def first_letter_influence(model, x, seed=0):
    """Mean over the batch of ‖h_t − h'_t‖ at every step t, where h' is the top LSTM layer's hidden state
    after only the first letter of each string in `x` (B, T) was changed to another one: (T,).
    Introduced in notebook 03."""
    if x.dim() != 2:
        raise ValueError(f"x must be (batch, length), got {tuple(x.shape)}")
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, len(LETTERS), (len(x),), generator=gen)
    changed = x.clone()
    changed[:, 0] = (x[:, 0] + shift) % len(LETTERS)  # always a different letter
    model.eval()
    device = next(model.parameters()).device
    h = model.lstm(model.embed(x.to(device)))[0]                  # (B, T, d)
    h_changed = model.lstm(model.embed(changed.to(device)))[0]    # (B, T, d)
    return (h - h_changed).norm(dim=-1).mean(0).cpu()             # (T,)


def with_attention(model, attend):
    """`model` (a TransformerModel) changed so that every head mixes its values with attend(Q, K, V) instead of
    softmax(Q·Kᵀ/√d)·V; Q, K (B, H, T, d_head), V likewise -> (B, H, T, d_head). The weights are no longer handed
    back (None). For notebook 08's exercise: the model with one line of its attention changed. Returns `model`."""
    if not callable(attend):
        raise ValueError(f"attend must be a function of (Q, K, V), got {type(attend).__name__}")
    if not isinstance(model, TransformerModel):
        raise ValueError(f"model must be a TransformerModel, got {type(model).__name__}")
    for block in model.blocks:
        if block.attn.rotary or model.cfg.causal or model.cfg.pad_id is not None or model.cfg.positions == "alibi":
            raise ValueError("model: with_attention takes a model without masks, ALiBi or RoPE")
        attn = block.attn

        def forward(x, mask=None, bias=None, attn=attn):
            B, T, d = x.shape
            q, k, v = (t.view(B, T, attn.n_heads, d // attn.n_heads).transpose(1, 2)   # (B, H, T, d/H) each
                       for t in attn.qkv(x).split(d, dim=-1))
            out = attend(q, k, v).transpose(1, 2).reshape(B, T, d)                    # (B, T, d)
            return attn.proj(out), None
        attn.forward = forward
    return model


def train_recall(length, epochs, model_cfg, seed=0, device=None, attend=None):
    """A Transformer of `model_cfg` trained on first-letter recall from 1,024 strings: (model on the CPU, History,
    task). Introduced in notebook 06 (two heads); notebook 08 trains one head, and with `attend` (see
    with_attention) a model whose attention was changed."""
    task = LetterRecall(RecallConfig(length=length, n_train=1024, seed=seed))
    with seeded(seed):
        model = TransformerModel(model_cfg)
    if attend is not None:
        with_attention(model, attend)
    history = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device))
    return model.cpu(), history, task


SECONDS_PER_EPOCH_LETTER = 0.04  # notebook 03's panel (the LSTM, then the Transformer): seconds per epoch and letter


def belt_estimate_seconds(length, epochs):
    """About how long notebook 03's panel takes (the LSTM and the Transformer on first-letter recall, measured at
    length 16, 20 epochs: about 13 s on a 2-core CPU), in seconds."""
    if not isinstance(length, int) or not 2 <= length <= 1000:
        raise ValueError(f"length must be a whole number from 2 to 1000, got {length!r}")
    if not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ValueError(f"epochs must be a whole number from 1 to 1000, got {epochs!r}")
    return SECONDS_PER_EPOCH_LETTER * epochs * length
