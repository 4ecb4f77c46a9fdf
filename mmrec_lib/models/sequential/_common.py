"""Small checks and tensor helpers shared by the sequential models."""

from __future__ import annotations

from typing import Any


def require_positive(**values: Any) -> None:
    """Raise ValueError naming each argument that is not a positive integer."""
    bad = [
        f"{name}={value!r}"
        for name, value in values.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1
    ]
    if bad:
        raise ValueError(f"these sizes must be positive integers: {', '.join(bad)}")


def require_probability(**values: Any) -> None:
    """Raise ValueError naming each argument outside [0, 1)."""
    bad = [f"{name}={value!r}" for name, value in values.items() if not 0 <= value < 1]
    if bad:
        raise ValueError(f"these rates must lie in [0, 1): {', '.join(bad)}")


def require_users(users: Any, model: str) -> None:
    if users is None:
        raise ValueError(f"{model} scores per user: pass users=(the users' indices)")


def device_of(module: Any):
    """The device of a module's first parameter or buffer."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    raise ValueError(f"{type(module).__name__} has no parameters or buffers")


def as_long(values: Any, device: Any):
    """An int64 tensor on ``device`` from a numpy array or tensor."""
    import torch

    return torch.as_tensor(values, dtype=torch.long, device=device)
