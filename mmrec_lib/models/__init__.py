"""Recommender models: rating prediction (paper A) in ``rating``, sequential (paper B) in
``sequential``, and the one training loop (``training``)."""

from __future__ import annotations

import inspect
from typing import Any


def constructor_parameters(cls: type) -> set[str]:
    """The keyword arguments ``cls`` takes (a subclass passing ``**hyperparameters`` on to its
    base takes the base's too)."""
    taken = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass.__module__.startswith("mmrec_lib"):
            parameters = inspect.signature(klass.__init__).parameters.values()
            taken |= {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
    return taken - {"self"}


def check_hyperparameters(cls: type, hyperparameters: dict, reserved: tuple[str, ...] = ()) -> None:
    """Raise unless every hyperparameter is a keyword argument of ``cls`` and none is one the
    caller passes itself (``reserved``): a misspelt name fails before any data is read."""
    clashing = sorted(set(hyperparameters) & set(reserved))
    if clashing:
        raise ValueError(f"hyperparameters may not set {clashing}: the run config sets them")
    unknown = sorted(set(hyperparameters) - constructor_parameters(cls))
    if unknown:
        raise ValueError(f"{cls.__name__} takes no hyperparameters {unknown}")


def require_positive(**values: Any) -> None:
    """Raise ValueError naming each argument that is not a positive integer."""
    bad = [
        f"{name}={value!r}"
        for name, value in values.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1
    ]
    if bad:
        raise ValueError(f"these sizes must be positive integers: {', '.join(bad)}")
