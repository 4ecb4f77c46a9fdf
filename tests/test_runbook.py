"""The notebook runner: profiles, parameters, reuse of unchanged runs, generated pages."""

import json

import nbformat
import pytest

from mmrec_lib.report import runbook


def _notebook(path, body="glue('answer', 2 * x, display=False)"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from myst_nb import glue\n" + body),
    ]
    nbformat.write(nb, path)
    return path


def test_unknown_profile_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="smoke"):
        runbook.load_profile("nonsense")


def test_every_profile_names_its_dataset():
    for name in runbook.available_profiles():
        assert runbook.load_profile(name)["common"]["dataset"]


@pytest.mark.slow
def test_execution_records_glue_and_reuses_unchanged_runs(tmp_path, monkeypatch):
    source = _notebook(tmp_path / "demo.ipynb")
    out = tmp_path / "out"
    first = runbook.execute_notebooks("smoke", out, [source], overrides={"x": 21})
    assert runbook.glued_values(first[0]) == {"answer": 42}
    stamp = json.loads(first[0].read_text())["metadata"][runbook.STAMP_KEY]

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged notebook was executed again")

    monkeypatch.setattr("papermill.execute_notebook", refuse)
    runbook.execute_notebooks("smoke", out, [source], overrides={"x": 21})
    assert json.loads(first[0].read_text())["metadata"][runbook.STAMP_KEY] == stamp
    with pytest.raises(AssertionError, match="executed again"):
        runbook.execute_notebooks("smoke", out, [source], overrides={"x": 22})


def test_generated_pages_state_profile_and_dataset(tmp_path):
    runbook.write_generated_pages("smoke", tmp_path)
    banner = (tmp_path / "banner.md").read_text()
    assert "`smoke`" in banner and "`synthetic`" in banner
    environment = (tmp_path / "environment.md").read_text()
    assert "| torch |" in environment and "| commit |" in environment
