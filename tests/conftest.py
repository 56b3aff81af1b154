import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw without a screen


def pytest_collection_modifyitems(config, items):
    """A test marked `gpu` skips, saying so, where torch sees no CUDA device."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if gpu:
        import torch
        if not torch.cuda.is_available():
            for item in gpu:
                item.add_marker(pytest.mark.skip(reason="needs CUDA: torch sees no GPU here"))
