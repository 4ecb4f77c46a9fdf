"""Shared fixtures: an isolated cache, the real-data mirror (skipped when absent), one torch
thread for small models, and the notebooks executed once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_REAL_DATA = os.environ.get("MMREC_REQUIRE_REAL_DATA") == "1"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write into the user's cache nor download (MMREC_OFFLINE=1).

    MMREC_TEST_CACHE_DIR keeps one cache across runs; tests of the download path serve
    files from 127.0.0.1 and switch the offline guard off themselves.
    """
    os.environ["MMREC_OFFLINE"] = "1"
    kept = os.environ.get("MMREC_TEST_CACHE_DIR")
    path = Path(kept) if kept else tmp_path_factory.mktemp("mmrec-cache")
    os.environ["MMREC_CACHE_DIR"] = str(path)


@pytest.fixture()
def one_torch_thread():
    """Small models train faster, and time more steadily, on one thread of a shared machine
    (use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real-data mirror named by MMREC_DATA_DIR.

    Skips when it is absent (a user's fresh clone); fails instead when
    MMREC_REQUIRE_REAL_DATA=1 (CI), so real-data tests cannot silently vanish there.
    """
    value = os.environ.get("MMREC_DATA_DIR", "")
    path = Path(value) if value else None
    if path is None or not (path / "ml-100k" / "u.data").is_file():
        message = f"real-data mirror not found (MMREC_DATA_DIR={value!r})"
        if REQUIRE_REAL_DATA:
            pytest.fail(message + " but MMREC_REQUIRE_REAL_DATA=1")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every notebook executed once under the `smoke` profile: {stem: executed path}."""
    from mmrec_lib.report.runbook import execute_notebooks, notebook_paths

    output_dir = tmp_path_factory.mktemp("executed")
    outputs = execute_notebooks("smoke", output_dir=output_dir, force=True)
    return {path.stem: out for path, out in zip(notebook_paths(), outputs, strict=True)}


@pytest.fixture()
def load_benchmark(monkeypatch):
    """``load_benchmark("scale")``: ``benchmarks/scale.py`` as a module (the scripts import
    their sibling helpers by name, and their dataclasses look themselves up in sys.modules)."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{name}_benchmark", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load
