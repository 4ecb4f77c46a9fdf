"""The next-item losses: hand-worked values, independent implementations, and learning with
each loss on planted structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mmrec_lib.models.sequential import BERT4Rec, SASRec
from mmrec_lib.models.sequential.losses import LOSSES, gbce_beta, sampled_loss
from tests.test_experiments_sequential import genre_chain, ndcg10


def test_gbce_beta_spans_bce_to_calibrated():
    """t = 0 is plain BCE (beta 1); t = 1 is beta = alpha = k / (n_items - 1)."""
    assert gbce_beta(128, 1001, 0.0) == pytest.approx(1.0)
    assert gbce_beta(128, 1001, 1.0) == pytest.approx(128 / 1000)
    assert gbce_beta(128, 1001, 0.5) == pytest.approx(0.5 * 128 / 1000 + 0.5)
    assert gbce_beta(5000, 1001, 0.75) == pytest.approx(1.0)  # k > n_items - 1: alpha capped


def test_sampled_softmax_by_hand():
    positive, negative = torch.tensor([2.0]), torch.tensor([[0.0, 1.0]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.e))
    assert sampled_loss("sampled-softmax", positive, negative, 10, 0.0).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_bce_is_the_mean_positive_term_plus_the_mean_negative_term():
    positive, negative = torch.tensor([0.0, 1.0]), torch.tensor([0.0, -1.0])
    log2, softplus1 = math.log(2), math.log1p(math.e)
    expected = (log2 + math.log1p(math.exp(-1))) / 2 + (log2 + math.log1p(math.exp(-1))) / 2
    assert sampled_loss("bce", positive, negative, 10, 0.0).item() == pytest.approx(expected)
    assert softplus1 > expected  # a wrong sign would give softplus(1) terms


def test_gbce_matches_gsasrec_form():
    """gSASRec's code: the positive logit s is replaced by log(1 / (sigmoid(s)^-beta - 1)), so
    that its sigmoid is sigmoid(s)^beta, then plain BCE over the k + 1 logits, averaged."""
    generator = torch.Generator().manual_seed(0)
    positive = torch.randn(7, generator=generator, dtype=torch.float64)
    negative = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    beta = gbce_beta(5, 50, 0.75)
    transformed = torch.log(1 / (torch.sigmoid(positive) ** -beta - 1))
    logits = torch.cat([transformed.unsqueeze(1), negative], dim=1)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    reference = F.binary_cross_entropy_with_logits(logits, labels)
    ours = sampled_loss("gbce", positive, negative, 50, 0.75)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-9)


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_a_batch(split_for_losses, cls, loss):
    """A batch of each loss has the shapes its loss needs, gives a finite loss, and a step
    of Adam lowers that batch's loss."""
    torch.manual_seed(0)
    model = cls(split_for_losses.n_items, max_len=6, d=8, n_heads=1, loss=loss, negatives=3)
    model.eval()  # no dropout: the same batch twice gives comparable losses
    batch = next(model.training_batches(split_for_losses, np.random.default_rng(0), 8))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    before = model.loss(batch)
    assert torch.isfinite(before)
    for _ in range(5):
        optimiser.zero_grad()
        model.loss(batch).backward()
        optimiser.step()
    assert model.loss(batch).item() < before.item()


@pytest.fixture(scope="module")
def split_for_losses():
    from mmrec_lib.data import dataset_spec, load_dataset_spec
    from mmrec_lib.data.splits import leave_one_out

    data = load_dataset_spec(dataset_spec("synthetic", "tiny", 0))
    return leave_one_out(data.interactions, n_negatives=10, seed=0)


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"loss": "ce"},
        {"loss": "sampled-softmax", "negatives": 4},
        {"loss": "gbce", "negatives": 4, "gbce_t": 0.0},
    ],
)
def test_sasrec_beats_poprec_with_every_loss(hyperparameters):
    """(gBCE at t = 0.75 learns too slowly on this 80-item chain for a unit test: beta < 1
    weakens the positive's gradient by design; its formula is checked above.)"""
    popular = ndcg10("poprec", genre_chain(0), 1)
    trained = ndcg10("sasrec", genre_chain(0), 20, hyperparameters=hyperparameters)
    assert trained > popular + 0.15


@pytest.mark.parametrize("loss", ["bce", "gbce"])
def test_bad_loss_settings_raise(loss):
    with pytest.raises(ValueError, match="negatives"):
        SASRec(20, loss=loss, negatives=0)
    with pytest.raises(ValueError, match="gbce_t"):
        BERT4Rec(20, loss=loss, gbce_t=1.5)
