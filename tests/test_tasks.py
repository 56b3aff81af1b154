import pytest
import torch

import helpers
from helpers import FirstLetterRecall, RecallConfig


def test_answer_is_the_first_letter_and_data_is_seeded():
    a, b = FirstLetterRecall(RecallConfig(length=7, seed=3)), FirstLetterRecall(RecallConfig(length=7, seed=3))
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_x, b.test_x)
    assert torch.equal(a.train_y, a.train_x[:, 0]) and torch.equal(a.test_y, a.test_x[:, 0])
    assert a.train_x.shape[1] == 7 and a.train_x.max() < 26
    assert not torch.equal(a.test_x, FirstLetterRecall(RecallConfig(length=7, seed=4)).test_x)


@pytest.mark.parametrize("length", [2, 3, 20])
def test_held_out_strings_never_appear_in_training(length):
    task = FirstLetterRecall(RecallConfig(length=length, n_train=500, n_test=100))
    train = {tuple(r) for r in task.train_x.tolist()}
    test = {tuple(r) for r in task.test_x.tolist()}
    assert not train & test and len(test) == 100


def test_batches_cover_one_epoch():
    task = FirstLetterRecall(RecallConfig(length=5, n_train=100, batch_size=32))
    sizes = [len(x) for x, _ in task.batches(torch.Generator().manual_seed(0))]
    assert sizes == [32, 32, 32, 4]


def test_encode_decode():
    ids = helpers.encode("K N M")
    assert ids.tolist() == [10, 13, 12] and helpers.decode(ids) == "K N M"
    with pytest.raises(ValueError, match="only the letters A-Z"):
        helpers.encode("K1")


@pytest.mark.parametrize("length", [1, 0, 1025, 2.5, "20"])
def test_bad_length(length):
    with pytest.raises(ValueError, match="length must be an integer from 2 to 1024"):
        FirstLetterRecall(RecallConfig(length=length))
