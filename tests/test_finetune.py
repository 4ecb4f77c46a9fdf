"""TSEM's fine-tuned towers: stand-in networks for the mechanics (dedup, augmentation, what
trains), the real offline EfficientNet-Lite0 and MiniLM against their frozen features, and
the rating experiment's ``encoders="fine-tune"`` option (in ``rating_inputs`` and in a run
config)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from mmrec_lib.data import dataset_spec, load_dataset
from mmrec_lib.data.splits import ratio_split
from mmrec_lib.experiments import rating
from mmrec_lib.experiments.rating import (
    _fresh_tower,
    rating_config,
    rating_inputs,
    run_rating,
    train_rating_model,
)
from mmrec_lib.features import PAPER_A_PREPROCESSING
from mmrec_lib.features.image import load_poster, training_augmentation
from mmrec_lib.features.text import text_backbone
from mmrec_lib.models.rating import rating_model
from mmrec_lib.models.rating.data import RatingIndex, RatingInputs
from mmrec_lib.models.rating.finetune import (
    DescriptionTower,
    ItemTower,
    PosterTower,
    backbone_parameter_groups,
)
from mmrec_lib.models.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_ITEMS, N_USERS, SIZE, VOCABULARY = 6, 5, 32, 20
PRESENT = np.array([True, True, False, True, True, True])


class TinyCNN(nn.Module):
    """Stand-in poster network: normalised pixels -> 4 pooled channels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, stride=2)

    def forward(self, images):
        return torch.relu(self.conv(images)).mean((2, 3))


class TinyText(nn.Module):
    """Stand-in text network with the Hugging Face calling convention: token embeddings."""

    def __init__(self, dim: int = 6):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, dim)

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(last_hidden_state=self.embedding(input_ids))


def pixels(seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(0, 256, (N_ITEMS, 3, SIZE, SIZE), dtype=np.uint8))


def tokens() -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded token ids (0 = padding) of 1 to 5 real tokens per item, max_length 7."""
    lengths = np.array([3, 5, 2, 1, 4, 2])
    ids = np.zeros((N_ITEMS, 7), np.int64)
    mask = np.arange(7) < lengths[:, None]
    ids[mask] = np.arange(1, mask.sum() + 1) % (VOCABULARY - 1) + 1
    return torch.as_tensor(ids), torch.as_tensor(mask.astype(np.int64))


def poster_tower(augment=None, chunk: int = 256) -> PosterTower:
    torch.manual_seed(0)
    mean, std = (127.0,) * 3, (128.0,) * 3
    return PosterTower(TinyCNN(), pixels(), PRESENT, 4, mean, std, augment, chunk)


def description_tower(normalise: bool = False) -> DescriptionTower:
    torch.manual_seed(0)
    ids, mask = tokens()
    return DescriptionTower(TinyText(), ids, mask, PRESENT, 6, normalise)


def index(n_users: int = N_USERS, n_items: int = N_ITEMS) -> RatingIndex:
    return RatingIndex(np.arange(n_users), np.arange(n_items))


def tsem(poster, description, seed: int = 0):
    """TSEM over frozen feature matrices, or over towers (as ``RatingInputs.fine_tuned``)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    content = {"poster": poster, "description": description}
    towers = {name: c for name, c in content.items() if isinstance(c, ItemTower)}
    frozen = {name: c for name, c in content.items() if name not in towers}
    inputs = RatingInputs(
        index(),
        tabular=rng.normal(size=(N_ITEMS, 3)).astype(np.float32),
        user_genre_frequency=np.ones((N_USERS, 2), np.float32),
        fine_tuned=towers,
        **frozen,
    )
    return rating_model("tsem").cls.from_inputs(inputs, dim=4, hidden=8, dropout=0.0)


def batch():
    users = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    items = torch.tensor([0, 1, 2, 3, 4, 5, 1, 0])
    return users, items, torch.tensor([4.0, 3.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0])


# --- towers ---------------------------------------------------------------------------------


def test_towers_give_one_row_per_item_and_zero_rows_without_content() -> None:
    items = torch.tensor([2, 0, 5, 2])
    posters, texts = poster_tower().eval()(items), description_tower().eval()(items)
    assert posters.shape == (4, 4) and texts.shape == (4, 6)
    for features in (posters, texts):
        assert not features[[0, 3]].any()  # item 2 has no content
        assert features[[1, 2]].abs().sum(1).gt(0).all()


def test_distinct_items_go_through_the_network_once_and_match_a_per_row_pass() -> None:
    tower = poster_tower(chunk=2).eval()
    seen = []
    tower.network.register_forward_hook(lambda module, args, out: seen.append(len(args[0])))
    items = torch.tensor([4, 1, 1, 4, 0, 4, 1, 3])
    together = tower(items)
    assert sorted(seen) == [2, 2]  # 4 distinct items, in passes of at most 2
    one_by_one = torch.cat([tower(item.view(1)) for item in items])
    torch.testing.assert_close(together, one_by_one)
    text = description_tower().eval()
    torch.testing.assert_close(text(items), torch.cat([text(item.view(1)) for item in items]))


def test_poster_tower_normalises_the_pixels_it_holds() -> None:
    tower = poster_tower().eval()
    expected = tower.network((pixels()[[1, 3]].float() - 127.0) / 128.0)
    torch.testing.assert_close(tower(torch.tensor([1, 3])), expected)


def test_description_is_the_mean_of_its_real_tokens_then_normalised() -> None:
    tower = description_tower(normalise=True).eval()
    ids, mask = tokens()
    table = tower.network.embedding.weight
    # item 1 has 5 real tokens, item 3 one: its single embedding, normalised
    expected = torch.stack([table[ids[1, :5]].mean(0), table[ids[3, 0]]])
    expected = expected / expected.norm(dim=1, keepdim=True)
    torch.testing.assert_close(tower(torch.tensor([1, 3])), expected)


def test_augmentation_only_in_train_mode() -> None:
    plain = poster_tower()
    augmented = poster_tower(augment=training_augmentation(SIZE))
    items = torch.tensor([0, 1, 3])
    augmented.eval()
    first, second = augmented(items), augmented(items)
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(first, plain.eval()(items))
    augmented.train()
    torch.manual_seed(1)
    drawn = augmented(items)
    torch.manual_seed(1)
    torch.testing.assert_close(augmented(items), drawn)  # seeded, so reproducible
    assert not torch.allclose(drawn, first)


def test_fine_tuning_trains_the_networks_and_frozen_features_do_not() -> None:
    users, items, ratings = batch()
    posters, texts = poster_tower(), description_tower()
    with torch.no_grad():
        frozen_posters = posters.eval()(torch.arange(N_ITEMS)).numpy()
        frozen_texts = texts.eval()(torch.arange(N_ITEMS)).numpy()
    frozen, tuned = tsem(frozen_posters, frozen_texts), tsem(posters, texts)
    # the same model until training: the towers give the frozen features
    torch.testing.assert_close(frozen.eval()(users, items), tuned.eval()(users, items))

    def network_weights() -> list[torch.Tensor]:
        return [
            p.detach().clone() for net in (posters.network, texts.network) for p in net.parameters()
        ]

    def step(model) -> None:
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
        model.train().loss(users, items, ratings).backward()
        optimiser.step()

    pretrained = network_weights()
    step(frozen)
    assert all(torch.equal(a, b) for a, b in zip(network_weights(), pretrained, strict=True))
    step(tuned)
    assert posters.network.conv.weight.grad.abs().sum() > 0
    assert texts.network.embedding.weight.grad.abs().sum() > 0
    assert all(not torch.equal(a, b) for a, b in zip(network_weights(), pretrained, strict=True))


def test_backbone_parameter_groups_put_the_networks_on_a_smaller_rate() -> None:
    model = tsem(poster_tower(), description_tower())
    params = [p for p in model.parameters() if p.requires_grad]
    heads, backbone = backbone_parameter_groups(model, params, lr=0.01, backbone_lr_scale=0.1)
    networks = [*model.towers["poster"].network.parameters()]
    networks += [*model.towers["description"].network.parameters()]
    assert {id(p) for p in backbone["params"]} == {id(p) for p in networks}
    assert len(heads["params"]) + len(backbone["params"]) == len(params)
    assert heads["lr"] == 0.01 and backbone["lr"] == pytest.approx(0.001)
    frozen = tsem(np.zeros((N_ITEMS, 4), np.float32), np.zeros((N_ITEMS, 6), np.float32))
    assert len(backbone_parameter_groups(frozen, frozen.parameters(), 0.01, 0.1)) == 1
    with pytest.raises(ValueError, match="backbone_lr_scale"):
        backbone_parameter_groups(model, params, lr=0.01, backbone_lr_scale=0.0)


def test_bad_towers_raise() -> None:
    seven_items = RatingInputs(
        index(n_items=7),
        tabular=np.zeros((7, 3), np.float32),
        description=np.zeros((7, 6), np.float32),
        user_genre_frequency=np.ones((N_USERS, 2), np.float32),
        fine_tuned={"poster": poster_tower()},
    )
    with pytest.raises(ValueError, match="encodes 6 items but the model indexes 7"):
        rating_model("tsem").cls.from_inputs(seven_items)
    with pytest.raises(ValueError, match="uint8"):
        PosterTower(TinyCNN(), pixels().float(), PRESENT, 4, (0.0,) * 3, (1.0,) * 3)
    ids, mask = tokens()
    with pytest.raises(ValueError, match="one row per item"):
        DescriptionTower(TinyText(), ids[:-1], mask[:-1], PRESENT, 6)


# --- the real offline encoders ----------------------------------------------------------------


def test_real_towers_give_the_frozen_features_and_fine_tune() -> None:
    from mmrec_lib.features import encode_images, encode_texts
    from mmrec_lib.models.rating import finetune

    items = load_dataset("synthetic", size="tiny").items.iloc[:2]
    paths, plots = [*items["poster_path"], None], [*items["plot"], "  "]
    posters = finetune.poster_tower(paths)
    texts = finetune.description_tower(plots)
    assert (posters.dim, texts.dim) == (1280, 384)
    every = torch.arange(3)
    with torch.no_grad():
        frozen_posters, _ = encode_images(paths, cache=False)
        torch.testing.assert_close(posters.eval()(every).numpy(), frozen_posters, atol=1e-4, rtol=0)
        frozen_texts = encode_texts(
            [PAPER_A_PREPROCESSING(plot) for plot in plots[:2]], cache=False
        )
        torch.testing.assert_close(texts.eval()(every)[:2].numpy(), frozen_texts, atol=1e-5, rtol=0)
    assert not texts(every)[2].any()
    one = torch.tensor([0])
    (posters.train()(one).sum() + texts.train()(one).sum()).backward()
    assert posters.network._conv_stem.weight.grad.abs().sum() > 0
    assert texts.network.embeddings.word_embeddings.weight.grad.abs().sum() > 0


# --- the rating experiment ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    data = load_dataset("synthetic", size="tiny", seed=1)
    return data, ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)


def with_stand_in_networks(tower):
    """The tower's content with a stand-in network (the real ones are too slow on a CPU)."""
    present = tower.present.squeeze(1).bool().numpy()
    if isinstance(tower, PosterTower):
        return PosterTower(
            TinyCNN(), tower.pixels, present, 4, tower.mean.flatten(), tower.std.flatten()
        )
    ids = tower.token_ids % VOCABULARY  # keep the stand-in's vocabulary small
    return DescriptionTower(TinyText(), ids, tower.attention_mask, present, 6, tower.normalise)


def test_fine_tune_inputs_hold_towers_aligned_to_the_index_and_train(tiny) -> None:
    data, split = tiny
    inputs = rating_inputs(data, split, ["tsem"], encoders="fine-tune")
    assert inputs.poster is None and inputs.description is None
    posters, texts = inputs.fine_tuned["poster"], inputs.fine_tuned["description"]
    assert posters.n_items == texts.n_items == inputs.index.n_items
    row = 7
    item = data.items.loc[inputs.index.item_ids[row]]
    np.testing.assert_array_equal(
        posters.pixels[row].numpy(), load_poster(item["poster_path"]).transpose(2, 0, 1)
    )
    tokenizer, _ = text_backbone("minilm")
    expected = tokenizer(PAPER_A_PREPROCESSING(item["plot"]))["input_ids"]
    assert texts.token_ids[row, : len(expected)].tolist() == expected

    stand_ins = {name: with_stand_in_networks(t) for name, t in inputs.fine_tuned.items()}
    inputs = dataclasses.replace(inputs, fine_tuned=stand_ins)
    untouched = [p.detach().clone() for t in stand_ins.values() for p in t.parameters()]
    config = TrainConfig(epochs=2, lr=0.01, patience=5, progress=False, seed=0)
    result = train_rating_model(
        "tsem", split, inputs, config, batch_size=256, model_kwargs={"dim": 8, "hidden": 16}
    )
    assert result.history.epochs_run == 2 and np.isfinite(result.metrics["rmse"])
    heads = frozen_heads(inputs, dim=8, hidden=16)
    backbone = sum(p.numel() for t in stand_ins.values() for p in t.parameters())
    assert result.n_parameters == sum(p.numel() for p in heads.parameters()) + backbone
    # each run trains a copy: the towers in the inputs keep their pretrained weights
    now = [p for t in stand_ins.values() for p in t.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(now, untouched, strict=True))
    # ... and shares their content buffers instead of copying the pixels and token ids
    fresh = _fresh_tower(stand_ins["poster"])
    assert fresh.pixels is stand_ins["poster"].pixels
    original = list(stand_ins["poster"].parameters())
    assert all(a is not b for a, b in zip(fresh.parameters(), original, strict=True))


def test_mf_nn_keeps_frozen_descriptions_when_tsem_fine_tunes(tiny) -> None:
    data, split = tiny
    no_plots = dataclasses.replace(data, items=data.items.drop(columns="plot"))
    inputs = rating_inputs(no_plots, split, ["mf_nn", "tsem"], encoders="fine-tune")
    assert inputs.poster is None  # only TSEM reads posters, and it has its tower
    assert inputs.description.shape == (inputs.index.n_items, 384)
    assert not inputs.description.any()  # frozen features: no plots, so zero rows
    assert set(inputs.fine_tuned) == {"poster", "description"}
    assert not inputs.fine_tuned["description"].present.any()
    assert inputs.fine_tuned["poster"].present.all()


def frozen_heads(inputs: RatingInputs, **hyperparameters):
    """TSEM without the stand-in networks: zero features of the stand-ins' widths."""
    n_items = inputs.index.n_items
    frozen = RatingInputs(
        inputs.index,
        tabular=inputs.tabular,
        poster=np.zeros((n_items, 4), np.float32),
        description=np.zeros((n_items, 6), np.float32),
        user_genre_frequency=inputs.user_genre_frequency,
    )
    return rating_model("tsem").cls.from_inputs(frozen, **hyperparameters)


@pytest.fixture()
def stand_in_towers(monkeypatch):
    """rating_inputs builds the real towers' content with stand-in networks; the inputs it
    cached for runs are dropped afterwards, so no other test gets the stand-ins."""
    from mmrec_lib.models.rating import finetune

    for name in ("poster_tower", "description_tower"):
        real = getattr(finetune, name)
        monkeypatch.setattr(
            finetune, name, lambda *a, _real=real, **k: with_stand_in_networks(_real(*a, **k))
        )
    rating._cached_inputs.cache_clear()
    yield
    rating._cached_inputs.cache_clear()


def test_a_fine_tune_config_trains_the_towers_at_its_backbone_rate(stand_in_towers) -> None:
    def config(backbone_lr_scale: float) -> dict:
        return rating_config(
            "tsem",
            dataset=dataset_spec("synthetic", "tiny", 1),
            batch_size=256,
            train={"epochs": 2, "lr": 0.01, "patience": 5},
            hyperparameters={"dim": 8, "hidden": 16},
            encoders={"mode": "fine-tune"},
            backbone_lr_scale=backbone_lr_scale,
        )

    slow, fast = run_rating(config(0.1)), run_rating(config(1.0))
    assert slow.metrics["epochs"] == 2 and np.isfinite(slow.metrics["rmse"])
    inputs = rating.model_inputs(config(0.1))
    assert set(inputs.fine_tuned) == {"poster", "description"}
    backbone = sum(p.numel() for t in inputs.fine_tuned.values() for p in t.parameters())
    heads = frozen_heads(inputs, dim=8, hidden=16)
    assert slow.metrics["n_parameters"] == sum(p.numel() for p in heads.parameters()) + backbone
    # the rate the config gives the towers is the rate they train at
    assert slow.arrays["history/train_loss"][0] != pytest.approx(
        fast.arrays["history/train_loss"][0]
    )
    assert not np.allclose(slow.arrays["predictions"], fast.arrays["predictions"])


def refuse(*args, **kwargs):
    raise AssertionError("work was done")


def test_bad_encoders_and_backbone_rates_raise_before_any_work(tiny, monkeypatch) -> None:
    from mmrec_lib.models.rating import finetune

    data, split = tiny
    monkeypatch.setattr(finetune, "poster_tower", refuse)
    monkeypatch.setattr(finetune, "description_tower", refuse)
    with pytest.raises(ValueError, match=r"encoders must be one of .*'fine-tune'.*'finetune'"):
        rating_inputs(data, split, ["tsem"], encoders="finetune")
    inputs = RatingInputs(rating_inputs(data, split, ["mf"]).index)
    config = TrainConfig(epochs=1, progress=False)
    with pytest.raises(ValueError, match="backbone_lr_scale must be positive"):
        train_rating_model("tsem", split, inputs, config, backbone_lr_scale=0.0)
    # ... and in a run config, before any data is read
    spec = dataset_spec("synthetic", "tiny", 1)
    with pytest.raises(ValueError, match=r"encoders.mode must be one of .*'fine-tune'"):
        rating_config("tsem", dataset=spec, encoders={"mode": "finetune"})
    with pytest.raises(ValueError, match="backbone_lr_scale must be positive"):
        rating_config("tsem", dataset=spec, encoders={"mode": "fine-tune"}, backbone_lr_scale=0)
