import pytest
import torch

import helpers
from helpers import LetterRecall, RecallConfig


def test_answer_is_the_first_letter_and_data_is_seeded():
    a, b = LetterRecall(RecallConfig(length=7, seed=3)), LetterRecall(RecallConfig(length=7, seed=3))
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_x, b.test_x)
    assert torch.equal(a.train_y, a.train_x[:, 0]) and torch.equal(a.test_y, a.test_x[:, 0])
    assert a.train_x.shape[1] == 7 and a.train_x.max() < 26
    assert not torch.equal(a.test_x, LetterRecall(RecallConfig(length=7, seed=4)).test_x)


@pytest.mark.parametrize("length", [3, 4, 20])
def test_held_out_strings_never_appear_in_training(length):
    task = LetterRecall(RecallConfig(length=length, n_train=500, n_test=100))
    train = {tuple(r) for r in task.train_x.tolist()}
    test = {tuple(r) for r in task.test_x.tolist()}
    assert not train & test and len(test) == 100


def test_batches_cover_one_epoch():
    task = LetterRecall(RecallConfig(length=5, n_train=100, batch_size=32))
    sizes = [len(x) for x, _ in task.batches(torch.Generator().manual_seed(0))]
    assert sizes == [32, 32, 32, 4]


def test_encode_decode():
    ids = helpers.encode("K N M")
    assert ids.tolist() == [10, 13, 12] and helpers.decode(ids) == "K N M"
    with pytest.raises(ValueError, match="only the letters A-Z"):
        helpers.encode("K1")


@pytest.mark.parametrize("length", [2, 1, 0, 1025, 2.5, "20"])
def test_bad_length(length):
    with pytest.raises(ValueError, match="length must be an integer from 3 to 1024"):
        LetterRecall(RecallConfig(length=length))


def test_fresh_training_draws_new_strings_and_never_a_held_out_one():
    task = LetterRecall(RecallConfig(length=3, n_train=256, n_test=12_000, fresh=True))  # 17,576 strings in all
    held_out = {tuple(r) for r in task.test_x.tolist()}
    plain = torch.randint(0, 26, (5000, 3), generator=torch.Generator().manual_seed(0))
    assert sum(tuple(r) in held_out for r in plain.tolist()) > 2500  # without the rule most draws would hit
    epoch = list(task.batches(torch.Generator().manual_seed(0)))
    assert len(epoch) == 256 // 64 and all(x.shape == (64, 3) and torch.equal(y, x[:, 0]) for x, y in epoch)
    assert not any(tuple(r) in held_out for x, _ in epoch for r in x.tolist())
    again = list(task.batches(torch.Generator().manual_seed(0)))
    other = list(task.batches(torch.Generator().manual_seed(1)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch, again))  # seeded
    assert not torch.equal(epoch[0][0], other[0][0])  # another generator, other strings


def test_position_asks_another_letter():
    cfg = RecallConfig(length=6, n_train=64, n_test=32, position=-3)
    task = LetterRecall(cfg)
    assert torch.equal(task.test_y, task.test_x[:, 3]) and torch.equal(task.train_y, task.train_x[:, 3])
    second = LetterRecall(RecallConfig(length=6, n_train=64, n_test=32, position=2, fresh=True))
    x, y = next(iter(second.batches(torch.Generator().manual_seed(0))))
    assert torch.equal(y, x[:, 1])
    for bad in (0, 7, -7):
        with pytest.raises(ValueError, match="position must be from 1 to 6 or from -6 to -1"):
            LetterRecall(RecallConfig(length=6, position=bad))


def test_kback_fresh_batches_are_new_strings_with_their_answers():
    from helpers.core.tasks import KBackConfig, KBackRecall
    task = KBackRecall(KBackConfig(length=3, ask="one", n_train=128, per_k_test=100, fresh=True))  # 300 held out
    held_out = {tuple(r) for r in task.test_x[:, :3].tolist()}
    for x, y in task.batches(torch.Generator().manual_seed(0)):
        k = x[:, -1] - 26 + 1  # the question token says which letter back
        assert torch.equal(y, x[torch.arange(len(x)), 3 - k])
        assert not any(tuple(r) in held_out for r in x[:, :3].tolist())
