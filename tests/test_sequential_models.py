"""Sequential recommenders: definitions checked on hand-made splits (no training to speak of)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.models.sequential import (
    MODEL_LABELS,
    SEQUENTIAL_MODELS,
    BERT4Rec,
    KeBERT4Rec,
    PopRec,
    SASRec,
    shared_settings,
)
from mmrec_lib.models.sequential.auxiliary import AuxiliaryEmbedding
from mmrec_lib.models.sequential.bert4rec import cloze_mask
from mmrec_lib.models.sequential.training_data import (
    next_item_targets,
    sample_unseen,
    training_windows,
    transitions,
)


@pytest.fixture(scope="module")
def split():
    """Three users; items (original ids) 10..16, timestamps give the order."""
    rows = [
        (0, [10, 11, 12, 13, 14]),
        (1, [11, 12, 15]),
        (2, [16, 10, 11, 12]),
    ]
    frame = pd.DataFrame(
        [(u, i, 1.0, t) for u, items in rows for t, i in enumerate(items)],
        columns=["user", "item", "rating", "timestamp"],
    )
    return leave_one_out(frame, n_negatives=2, seed=0)


def random_histories(n_items: int, batch: int = 4, length: int = 8, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    histories = torch.randint(1, n_items + 1, (batch, length), generator=generator)
    histories[0, :3] = 0  # left padding
    return histories


def test_registry_lists_table1_in_order_and_builds_every_model_one_way(split):
    assert list(SEQUENTIAL_MODELS) == [
        "poprec", "bpr", "transrec", "bert4rec", "kebert4rec", "sasrec", "bert4rec+", "sasrec+",
        "content-knn",
    ]  # fmt: skip
    assert list(MODEL_LABELS) == list(SEQUENTIAL_MODELS)[:8]  # Table 1: the paper's models
    rng = np.random.default_rng(0)
    item_inputs = {None: None, "keywords": rng.integers(0, 2, (split.n_items + 1, 3)),
                   "fused": rng.normal(size=(split.n_items + 1, 5))}  # fmt: skip
    for values in item_inputs.values():
        if values is not None:
            values[0] = 0  # the padding row
    histories = torch.as_tensor(split.padded_histories(4, include_val=True))
    candidates = torch.as_tensor(np.column_stack([split.test_item, split.negatives]))
    for name, spec in SEQUENTIAL_MODELS.items():
        settings = shared_settings(spec.cls, d=8, max_len=4)
        trained = name not in ("poprec", "content-knn")  # a counter and a similarity
        assert ("d" in settings) == trained, name
        model = spec.cls.from_split(split, item_inputs[spec.item_input], **settings)
        if trained:
            assert (getattr(model, "aux", None) is not None) == (spec.item_input is not None), name
        with torch.no_grad():
            scores = model.score(histories, candidates, np.arange(split.n_users))
        assert scores.shape == candidates.shape, name


def test_poprec_scores_are_training_counts(split):
    model = PopRec().fit(split)
    # training items (re-indexed 1..7 = ids 10..16): user 0: 10 11 12, user 1: 11, user 2: 16 10
    expected = np.array([0, 2, 2, 1, 0, 0, 0, 1])
    assert np.array_equal(model.counts, expected)
    candidates = torch.tensor([[1, 7, 5], [2, 3, 4]])
    scores = model.score(torch.zeros(2, 3, dtype=torch.long), candidates)
    assert scores.tolist() == [[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]]
    assert model.score_all(torch.zeros(3, 4, dtype=torch.long)).shape == (3, 8)
    with pytest.raises(ValueError, match="not fitted"):
        PopRec().score(None, candidates)


def test_training_examples(split):
    inputs, targets, users = next_item_targets(split, max_len=3)
    assert inputs.tolist() == [[0, 1, 2], [0, 0, 0], [0, 0, 7]]
    assert targets.tolist() == [[0, 2, 3], [0, 0, 0], [0, 0, 1]]
    assert users.tolist() == [0, 1, 2]
    users, previous, following = transitions(split)
    assert list(zip(users, previous, following, strict=True)) == [(0, 1, 2), (0, 2, 3), (2, 7, 1)]
    seen = split.seen_matrix()
    draws = sample_unseen(seen, np.array([0, 0, 2]), (50,), np.random.default_rng(0))
    assert draws.min() >= 1 and draws.max() <= split.n_items
    for row, user in zip(draws, [0, 0, 2], strict=True):
        assert not set(row) & set(split.train_sequence(user))


def long_history_split():
    """User 0 has 7 training items (1..7 after re-indexing), users 1-3 have 1, 2 and 1."""
    rows = [(0, list(range(10, 19))), (1, [11, 12, 15]), (2, [16, 10, 11, 12]), (3, [20, 21, 22])]
    frame = pd.DataFrame(
        [(u, i, 1.0, t) for u, items in rows for t, i in enumerate(items)],
        columns=["user", "item", "rating", "timestamp"],
    )
    return leave_one_out(frame, n_negatives=2, seed=0)


def test_training_windows_cut_long_histories_from_the_end():
    split = long_history_split()
    assert split.train_sequence(0).tolist() == [1, 2, 3, 4, 5, 6, 7]
    last, users = training_windows(split, 3)
    assert last.tolist() == [[5, 6, 7], [0, 0, 2], [0, 7, 1], [0, 0, 10]]
    assert users.tolist() == [0, 1, 2, 3]
    overlapping, users = training_windows(split, 3, step=2)
    assert overlapping.tolist()[:3] == [[5, 6, 7], [3, 4, 5], [1, 2, 3]]
    assert users.tolist() == [0, 0, 0, 1, 2, 3]
    disjoint, _ = training_windows(split, 3, step=3)
    assert disjoint.tolist()[:3] == [[5, 6, 7], [2, 3, 4], [0, 0, 1]]
    with pytest.raises(ValueError, match="step"):
        training_windows(split, 3, step=4)


@pytest.mark.parametrize("max_len", [2, 3, 5, 50])
def test_all_windows_hold_every_training_transition_once(max_len):
    rng = np.random.default_rng(max_len)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 30, 2000),
            "item": rng.integers(0, 400, 2000),
            "rating": 1.0,
            "timestamp": rng.permutation(2000),
        }
    ).drop_duplicates(["user", "item"])
    split = leave_one_out(frame, n_negatives=5, seed=0)
    inputs, targets, users = next_item_targets(split, max_len, windows="all")
    kept = targets != 0
    pairs = sorted(
        zip(
            np.broadcast_to(users[:, None], kept.shape)[kept],
            inputs[kept],
            targets[kept],
            strict=True,
        )
    )
    assert pairs == sorted(zip(*transitions(split), strict=True))
    with pytest.raises(ValueError, match="windows"):
        next_item_targets(split, max_len, windows="some")


def test_sasrec_is_causal():
    model = SASRec(n_items=20, max_len=8, d=16, n_blocks=2, n_heads=2).eval()
    histories = random_histories(20)
    changed = histories.clone()
    changed[:, 5:] = torch.randint(1, 21, (4, 3))
    with torch.no_grad():
        before, _ = model.encode(histories)
        after, _ = model.encode(changed)
    assert torch.allclose(before[:, :5], after[:, :5], atol=1e-6)
    assert not torch.allclose(before[:, 5:], after[:, 5:], atol=1e-3)


@pytest.mark.parametrize("cls", [SASRec, BERT4Rec])
def test_attention_maps_are_distributions(cls):
    model = cls(n_items=20, max_len=8, d=16, n_blocks=3, n_heads=4).eval()
    with torch.no_grad():
        maps = model.attention_maps(random_histories(20))
    assert len(maps) == 3
    for weights in maps:
        assert weights.shape == (4, 4, 8, 8)
        assert torch.allclose(weights.sum(-1), torch.ones(4, 4, 8), atol=1e-5)
    if cls is SASRec:  # nothing attends to the future, and a real query ignores padding keys
        future = torch.triu(torch.ones(8, 8, dtype=torch.bool), diagonal=1)
        assert (maps[0][:, :, future] == 0).all()
        assert (maps[0][0, :, 3:, :3] == 0).all()


def test_cloze_mask_follows_its_definition():
    rng = np.random.default_rng(0)
    sequences = rng.integers(1, 50, size=(400, 20))
    lengths = rng.integers(0, 21, size=400)
    sequences[np.arange(20) < (20 - lengths)[:, None]] = 0  # left padding
    inputs, labels = cloze_mask(sequences, 0.3, mask_token=50, rng=rng)
    masked = inputs == 50
    expected = np.where(lengths > 0, np.maximum(1, np.rint(0.3 * lengths)), 0)
    assert np.array_equal(masked.sum(1), expected)
    assert not masked[sequences == 0].any()  # padding is never masked
    assert np.array_equal(labels[masked], sequences[masked])
    assert (labels[~masked] == 0).all()
    assert np.array_equal(inputs[~masked], sequences[~masked])
    assert masked.sum() / (sequences > 0).sum() == pytest.approx(0.3, abs=0.02)

    inputs, labels = cloze_mask(sequences, 0.3, 50, rng, last_mask_prob=1.0)
    real_rows = lengths > 0
    assert (inputs[real_rows, -1] == 50).all() and ((inputs == 50).sum(1) == real_rows).all()


def test_bert4rec_predicts_at_an_appended_mask():
    model = BERT4Rec(n_items=20, max_len=8, d=16, n_heads=2)
    inputs = model.prediction_inputs(random_histories(20))
    assert inputs.shape == (4, 8) and (inputs[:, -1] == 21).all()


@pytest.mark.parametrize("name", ["poprec", "bpr", "transrec", "sasrec", "bert4rec", "kebert4rec"])
def test_score_agrees_with_score_all(split, name):
    torch.manual_seed(0)
    n = split.n_items
    if name == "poprec":
        model = PopRec().fit(split)
    elif name in ("bpr", "transrec"):
        model = SEQUENTIAL_MODELS[name].cls(split.n_users, n, d=8).eval()
    elif name == "kebert4rec":
        model = KeBERT4Rec(n, torch.eye(n + 1)[:, 1:] * (torch.arange(n + 1) > 0)[:, None], d=8)
    else:
        model = SEQUENTIAL_MODELS[name].cls(n, max_len=4, d=8, n_heads=2)
    if isinstance(model, torch.nn.Module):
        model.eval()
    histories = torch.as_tensor(split.padded_histories(4, include_val=True))
    candidates = torch.as_tensor(np.column_stack([split.test_item, split.negatives]))
    users = np.arange(split.n_users)
    with torch.no_grad():
        scores = model.score(histories, candidates, users)
        full = model.score_all(histories, users)
    assert full.shape == (split.n_users, n + 1)
    assert torch.allclose(scores, full.gather(1, candidates), atol=1e-5)


def test_transrec_keeps_items_in_the_unit_ball(split):
    model = SEQUENTIAL_MODELS["transrec"].cls(split.n_users, split.n_items, d=4, init_std=3.0)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    for batch in model.training_batches(split, np.random.default_rng(0), batch_size=8):
        model.loss(batch).backward()
        optimiser.step()
    with torch.no_grad():
        gamma = model.gamma(torch.arange(split.n_items + 1))
        assert gamma.norm(dim=1).max() <= 1 + 1e-5
        # score = beta_j - ||gamma_i + t + t_u - gamma_j|| by hand, for user 0 after item 2
        landing = gamma[2] + model.t + model.t_user.weight[0]
        expected = model.beta.weight[5, 0] - (landing - gamma[5]).norm()
        got = model.score(torch.tensor([[1, 2]]), torch.tensor([[5]]), np.array([0]))
    assert got.item() == pytest.approx(expected.item(), abs=1e-5)


def test_auxiliary_embedding_is_linear_and_zero_for_padding_and_mask():
    features = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    aux = AuxiliaryEmbedding(features, d=3)
    out = aux(torch.tensor([[0, 1, 2, 3]]))  # 3 = a token without features ([MASK])
    assert (out[0, 0] == 0).all() and (out[0, 3] == 0).all()
    expected = features[1:] @ aux.project.weight.T + aux.project.bias
    assert torch.allclose(out[0, 1:3], expected)


def test_auxiliary_input_changes_the_representation():
    features = torch.cat([torch.zeros(1, 3), torch.rand(20, 3)])
    plain = SASRec(20, max_len=8, d=16).eval()
    torch.manual_seed(0)
    plus = SASRec(20, max_len=8, d=16, aux_features=features).eval()
    plus.load_state_dict(plain.state_dict(), strict=False)
    histories = random_histories(20)
    with torch.no_grad():
        assert not torch.allclose(plain.encode(histories)[0], plus.encode(histories)[0])
        plus.aux.project.weight.zero_()
        plus.aux.project.bias.zero_()
        assert torch.allclose(plain.encode(histories)[0], plus.encode(histories)[0], atol=1e-6)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SASRec(20, d=10, n_heads=3), "divisible"),
        (lambda: BERT4Rec(20, d=10, n_heads=4), "divisible"),
        (lambda: SASRec(-5), "positive integers"),
        (lambda: SASRec(20, max_len=0), "positive integers"),
        (lambda: SASRec(20, dropout=1.5), r"\[0, 1\)"),
        (lambda: SASRec(20, loss="hinge"), "loss must be"),
        (lambda: BERT4Rec(20, mask_prob=0.0), "mask_prob"),
        (lambda: BERT4Rec(20, max_len=1), "max_len"),
        (lambda: SEQUENTIAL_MODELS["bpr"].cls(0, 20), "positive integers"),
        (lambda: SASRec(20, aux_features=torch.ones(21, 3)), "row 0"),
        (lambda: SASRec(20, aux_features=torch.zeros(5, 3)), "rows"),
        (lambda: SASRec(20, aux_features=torch.zeros(21)), r"\(n_items \+ 1, d_aux\)"),
    ],
)
def test_bad_parameters_raise(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_per_user_models_need_users(split):
    model = SEQUENTIAL_MODELS["bpr"].cls(split.n_users, split.n_items)
    with pytest.raises(ValueError, match="users="):
        model.score(torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
