"""Input checks: a bad argument raises a ValueError that names it and its allowed range."""
import platform
from pathlib import Path


def check_int(name, value, low, high):
    """Raise ValueError unless `value` is an int in [low, high]; return it (notebook 01)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_choice(name, value, choices):
    """Raise ValueError unless `value` is one of `choices`; return it (notebook 02)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_parameters(length, epochs, seed, device, lengths, epoch_range):
    """The notebook's parameters cell checked where it stands: a ValueError naming LENGTH, EPOCHS, SEED or DEVICE
    and its range, before any cell uses them (papermill stops there); returns them (notebook 01)."""
    check_int("LENGTH", length, *lengths)
    check_int("EPOCHS", epochs, *epoch_range)
    check_int("SEED", seed, 0, 2**31 - 1)
    if device is not None:
        from .timing import pick_device
        try:
            pick_device(device)
        except ValueError as err:
            raise ValueError(f"DEVICE: {err}") from None
    return length, epochs, seed, device


# Where the stored outputs were made: the CPU of an AMD machine, requirements.txt's torch, AVX2 kernels (the
# Makefile's ATEN_CPU_CAPABILITY); another device, torch release or kernel set sums floats in another order, and so
# does an Intel CPU with the same kernels (MKL runs other matrix kernels there: notebook 03's LSTM with forget bias 1
# learned length 16 in 20 epochs on the one and not on the other).
STORED_WITH = {"device": "cpu", "torch": "2.13.0", "cpu_capability": "AVX2", "cpu_maker": "AMD"}


def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo), else what platform says; for every recording (helpers.record)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_maker(model=None):
    """'AMD', 'Intel' or else the model name itself: who made the CPU named `model` (None: this machine's); the
    recordings name their CPU by its model (notebook 02)."""
    if model is None:
        model = cpu_model()
    return next((maker for maker in ("AMD", "Intel") if maker in model), model)


def as_stored(device=None, **parameters):
    """Whether this run reproduces the stored outputs: `device` (None: the one pick_device chooses) is the CPU, torch,
    its CPU kernels and the CPU's maker are STORED_WITH's, and each parameter, given as NAME=(value now, value
    stored), has its stored value. A notebook asserts the exact figures its slides state only then, and the claim
    itself everywhere (notebook 01)."""
    import torch

    from .timing import pick_device
    for name, pair in parameters.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"{name} must be a pair (value now, value stored), got {pair!r}")
    here = {"device": pick_device(device).type, "torch": torch.__version__.split("+")[0],
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_maker": cpu_maker()}
    return here == STORED_WITH and all(now == stored for now, stored in parameters.values())
