"""Each notebook's parameter schema: in sync with the notebook, its profiles pass it, and a bad
value fails in the first code cell, before any data is read."""

from __future__ import annotations

import time

import pytest

from mmrec_lib.report.parameters import (
    check_notebook_parameters,
    integer,
    of_type,
    one_of,
    schema,
)
from mmrec_lib.report.runbook import (
    load_profile,
    notebook_defaults,
    notebook_parameters,
    notebook_paths,
)

NOTEBOOKS = notebook_paths()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_schema_names_exactly_the_notebook_parameters_and_accepts_the_defaults(notebook):
    defaults = notebook_defaults(notebook)
    assert set(schema(notebook.stem)) == set(defaults)
    check_notebook_parameters(notebook.stem, defaults)


@pytest.mark.parametrize("profile", ["smoke", "synthetic", "ml-100k", "paper"])
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_profile_passes_every_schema(notebook, profile):
    values = {**notebook_defaults(notebook), **notebook_parameters(load_profile(profile), notebook)}
    check_notebook_parameters(notebook.stem, values)


def test_range_errors_are_all_named_at_once_and_ints_pass_as_floats():
    (table1,) = [p for p in NOTEBOOKS if p.stem == "30_paper_b_table1"]
    values = {**notebook_defaults(table1), "epochs": 0, "max_len": -3, "n_negatives": -5, "lr": 1}
    with pytest.raises(ValueError) as error:
        check_notebook_parameters(table1.stem, values)
    message = str(error.value)
    for name in ("epochs=0", "max_len=-3", "n_negatives=-5"):
        assert name in message
    assert "lr=" not in message  # papermill passes -p lr 1 as an int: accepted
    for bad in (float("inf"), float("nan"), 0, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="lr="):
            check_notebook_parameters(table1.stem, {**values, "epochs": 1, "max_len": 5,
                                                     "n_negatives": 5, "lr": bad})  # fmt: skip


def test_unknown_choices_and_duplicate_modalities_are_refused():
    (table1,) = [p for p in NOTEBOOKS if p.stem == "30_paper_b_table1"]
    defaults = notebook_defaults(table1)
    for name, bad in [("models", ["sasrec", "gru4rec"]), ("modalities", ["text", "text"]),
                      ("modalities", []), ("fusion", "product"), ("dataset", "ml-2k"),
                      ("device", "tpu")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"{name}="):
            check_notebook_parameters(table1.stem, {**defaults, name: bad})


def test_an_unknown_notebook_has_no_schema():
    with pytest.raises(ValueError, match="no parameter schema"):
        schema("99_missing")


@pytest.mark.notebooks
def test_a_bad_parameter_stops_the_notebook_in_its_first_code_cell(tmp_path):
    import papermill

    (table1,) = [p for p in NOTEBOOKS if p.stem == "30_paper_b_table1"]
    started = time.perf_counter()
    with pytest.raises(papermill.PapermillExecutionError, match="epochs=0") as error:
        papermill.execute_notebook(
            table1, tmp_path / "out.ipynb", parameters={"epochs": 0}, progress_bar=False
        )
    # parameters cell, papermill's injected parameters, then the check: nothing before it
    assert error.value.exec_count == 3 and "check_notebook_parameters" in error.value.source
    assert time.perf_counter() - started < 60


def test_rules_reject_bools_as_numbers_and_describe_themselves():
    within = integer(1, 50)
    assert within.accepts(5) and within.meaning == "an integer >= 1 and <= 50"
    for bad in (0, 51, 2.5, True, "5"):
        assert not within.accepts(bad)
    assert of_type(bool).accepts(False) and not of_type(bool).accepts(0)
    assert of_type(str).accepts("x") and not of_type(int).accepts(True)
    assert one_of("a", "b").accepts("b") and not one_of("a", "b").accepts("c")


def test_missing_parameters_are_named():
    with pytest.raises(ValueError, match="seed: missing"):
        check_notebook_parameters("10_eda", {})
