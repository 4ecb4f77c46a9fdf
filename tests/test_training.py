"""The shared training loop: learning, early stopping, resuming, and its errors."""

import numpy as np
import pytest
import torch

from mmrec_lib.models.training import History, TrainConfig, fit, resolve_device, shuffled_batches


def _regression_problem(seed: int = 0, n: int = 256):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32)
    w = torch.tensor([1.0, -2.0, 0.5, 3.0])
    y = x @ w + 0.01 * torch.tensor(rng.normal(size=n), dtype=torch.float32)
    return x, y


def _train(config: TrainConfig, model=None, lr_scale: float = 1.0):
    x, y = _regression_problem()
    torch.manual_seed(0)
    model = model or torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1)
    )

    def loss_fn(m, batch):
        xb, yb = batch
        return torch.nn.functional.mse_loss(m(xb).squeeze(-1) * lr_scale, yb)

    def validate(m):
        return torch.nn.functional.mse_loss(m(x).squeeze(-1), y).item()

    history = fit(
        model, lambda rng, h: shuffled_batches((x, y), 32, rng), loss_fn, validate, config
    )
    return model, history


def test_fit_learns_a_linear_map_and_keeps_history():
    model, history = _train(TrainConfig(epochs=30, lr=0.02, patience=30, progress=False))
    assert history.epochs_run == 30
    assert history.val_metric[-1] < 0.05 * history.val_metric[0]
    assert history.best_metric == min(history.val_metric)
    frame = history.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "val_loss", "seconds"]


def test_early_stopping_restores_the_best_epoch():
    # A huge learning rate makes validation loss bounce: training must stop early
    # and the model must end with the weights of its best epoch.
    model, history = _train(TrainConfig(epochs=40, lr=0.5, patience=2, progress=False))
    x, y = _regression_problem()
    with torch.no_grad():
        final = torch.nn.functional.mse_loss(model.eval()(x).squeeze(-1), y).item()
    assert final == pytest.approx(history.best_metric, rel=1e-5)
    assert history.epochs_run - 1 - history.best_epoch <= 2


def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path):
    _, whole = _train(
        TrainConfig(
            epochs=8, lr=0.02, patience=8, progress=False, checkpoint_dir=tmp_path / "whole"
        )
    )
    # Stop after 3 epochs, then start again asking for 8: it resumes at epoch 4.
    _train(
        TrainConfig(
            epochs=3, lr=0.02, patience=8, progress=False, checkpoint_dir=tmp_path / "split"
        )
    )
    model, resumed = _train(
        TrainConfig(
            epochs=8, lr=0.02, patience=8, progress=False, checkpoint_dir=tmp_path / "split"
        )
    )
    assert resumed.epochs_run == 8
    np.testing.assert_allclose(resumed.val_metric, whole.val_metric, rtol=1e-6)
    np.testing.assert_allclose(resumed.train_loss, whole.train_loss, rtol=1e-6)


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    _train(TrainConfig(epochs=2, lr=0.02, progress=False, checkpoint_dir=tmp_path))
    with pytest.raises(ValueError, match="another configuration"):
        _train(TrainConfig(epochs=2, lr=0.05, progress=False, checkpoint_dir=tmp_path))


def test_non_finite_loss_stops_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="epoch 1, batch 1"):
        _train(TrainConfig(epochs=2, progress=False), lr_scale=float("nan"))


def test_empty_training_set_is_an_error():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="no batch"):
        fit(
            model,
            lambda rng, h: iter(()),
            lambda m, b: 0,
            lambda m: 0.0,
            TrainConfig(epochs=1, progress=False),
        )


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": -3}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"patience": 0}, "patience"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"device": "quantum"}, "device"),
    ],
)
def test_bad_configuration_fails_before_any_work(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_auto_device_is_cuda_only_when_present():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_history_improvement_follows_the_mode():
    history = History(mode="max", val_metric=[0.5], best_epoch=0)
    assert history.improved(0.6) and not history.improved(0.4)


def test_without_validation_every_epoch_runs_and_the_last_weights_stay():
    x, y = _regression_problem()
    config = TrainConfig(epochs=6, lr=0.5, patience=1, progress=False)  # bouncing loss

    def run(validate):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        history = fit(
            model,
            lambda rng, h: shuffled_batches((x, y), 32, rng),
            lambda m, b: torch.nn.functional.mse_loss(m(b[0]).squeeze(-1), b[1]),
            validate,
            config,
        )
        return model, history

    model, history = run(None)
    assert history.epochs_run == 6 and history.best_epoch == 5
    assert np.isnan(history.val_metric).all()
    # the same run with a metric that improves every epoch ends on the same weights
    countdown = iter(range(100, 0, -1))
    reference, _ = run(lambda m: next(countdown))
    assert torch.equal(model.weight, reference.weight)


def test_deterministic_torch_asks_for_deterministic_kernels():
    import torch

    from mmrec_lib.device import deterministic_torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic)
    try:
        deterministic_torch()
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic = before[1]
