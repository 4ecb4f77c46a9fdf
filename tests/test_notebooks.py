"""Every notebook, found by glob, is committed clean and runs under papermill on tiny data."""

import json
import math
import re

import pytest

from mmrec_lib.report.runbook import glued_values, load_profile, notebook_paths

NOTEBOOKS = notebook_paths()
# Bounds that any recorded metric must respect, by what its name says it is.
BOUNDS = {
    "rmse": (0.0, 4.0),
    "mse": (0.0, 16.0),
    "mae": (0.0, 4.0),
    "ndcg": (0.0, 1.0),
    "hr": (0.0, 1.0),
    "hit": (0.0, 1.0),
    "map": (0.0, 1.0),
    "mrr": (0.0, 1.0),
}


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_with_one_parameters_cell(notebook):
    cells = _code_cells(notebook)
    assert all(not c["outputs"] and c["execution_count"] is None for c in cells), (
        f"{notebook.name} has outputs; outputs come from the book build"
    )
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"
    metadata = json.loads(notebook.read_text())["metadata"]
    assert metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defines_nothing_and_only_calls_the_library(notebook):
    for cell in _code_cells(notebook):
        source = "".join(cell["source"])
        for line in source.splitlines():
            stripped = line.lstrip()
            assert not stripped.startswith(("def ", "class ", "async def ")), (
                f"{notebook.name} defines code; move it into mmrec_lib:\n{line}"
            )
            assert "lambda" not in stripped, f"{notebook.name} has a lambda:\n{line}"


def _markdown(path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _cited_glue(path) -> set[str]:
    """The glued names the notebook's text cites with MyST's {glue:text} role."""
    return set(re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)", "\n".join(_markdown(path))))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_helper_cells_are_hidden_and_every_figure_has_a_caption(notebook):
    """Cells that record values (glue) or check parameters show no code on the page; a cell
    that ends in ";" (how these notebooks show a figure) carries a caption."""
    for cell in _code_cells(notebook):
        source = "".join(cell["source"])
        tags = cell["metadata"].get("tags", [])
        if "glue_all(" in source:
            assert "remove-cell" in tags, f"{notebook.name}: a glue cell is shown:\n{source}"
        if "check_notebook_parameters(" in source:
            assert {"remove-input", "remove-cell"} & set(tags), (
                f"{notebook.name}: the parameter check's code is shown"
            )
        if source.rstrip().endswith(";"):
            caption = cell["metadata"].get("mystnb", {}).get("figure", {}).get("caption", "")
            assert caption.strip(), f"{notebook.name}: a figure without a caption:\n{source}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_opens_with_the_claim_and_ends_with_what_we_found(notebook):
    markdown = _markdown(notebook)
    assert "The paper's claim" in markdown[0], f"{notebook.name} does not open with the claim"
    cells = json.loads(notebook.read_text())["cells"]
    assert cells[-1]["cell_type"] == "markdown", f"{notebook.name} ends with code"
    last = "".join(cells[-1]["source"])
    assert last.startswith("## What we found"), f"{notebook.name} does not end with its result"
    assert "{glue:text}`claim_" in last and "_verdict`" in last, (
        f"{notebook.name}: the result cites no glued number or verdict"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_its_parameters_in_every_profile(notebook):
    for profile in ("smoke", "synthetic", "ml-100k", "paper"):
        assert notebook.stem in load_profile(profile)["notebooks"], (
            f"profiles/{profile}.yml has no parameters for {notebook.stem}"
        )


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_records_sane_results(notebook, executed_notebooks):
    executed = executed_notebooks[notebook.stem]
    errors = [
        output
        for cell in json.loads(executed.read_text())["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"{notebook.name} raised: {errors[0].get('evalue')}"
    values = glued_values(executed)
    assert values, f"{notebook.name} records no results with glue"
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        assert math.isfinite(value), f"{notebook.name}: {name} = {value}"
        words = name.lower().replace("@", "_").split("_")
        scale = 100.0 if "pct" in words else 1.0  # a *_pct value is a percentage
        for word, (low, high) in BOUNDS.items():
            low, high = low * scale, high * scale
            if word in words:
                assert low <= value <= high, (
                    f"{notebook.name}: {name} = {value} not in [{low}, {high}]"
                )


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_the_text_cites_is_glued_even_on_tiny_settings(notebook, executed_notebooks):
    """The book's -W build fails on a {glue:text} name the notebook never glued; this names
    the missing ones. Values a small profile does not compute are glued as NaN."""
    glued = glued_values(executed_notebooks[notebook.stem])
    missing = sorted(_cited_glue(notebook) - set(glued))
    assert not missing, f"{notebook.name} cites names it never glues: {missing}"


def test_readme_documents_every_notebook_parameter():
    from mmrec_lib.report.runbook import README_BEGIN, README_END, ROOT, parameter_docs

    readme = (ROOT / "README.md").read_text()
    assert README_BEGIN in readme and README_END in readme
    documented = readme.split(README_BEGIN)[1].split(README_END)[0].strip()
    assert documented == parameter_docs().strip(), (
        "README's notebook parameters are stale: "
        "paste `python -m mmrec_lib.report.runbook --readme`"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_has_a_help_comment(notebook):
    import papermill

    for name, spec in papermill.inspect_notebook(str(notebook)).items():
        assert spec["help"].strip(), f"{notebook.name}: parameter {name} has no '# help' comment"


@pytest.mark.notebooks
@pytest.mark.slow
def test_table1_notebook_executed_twice_from_empty_caches_glues_identical_values(
    tmp_path, monkeypatch
):
    from mmrec_lib.report.runbook import NOTEBOOK_DIR, execute_notebooks

    notebook = NOTEBOOK_DIR / "30_paper_b_table1.ipynb"
    glued = []
    for attempt in ("first", "second"):
        monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / f"cache-{attempt}"))
        (executed,) = execute_notebooks(
            "smoke", output_dir=tmp_path / attempt, notebooks=[notebook], force=True
        )
        glued.append(glued_values(executed))
    assert glued[0], "the notebook glued nothing"
    assert glued[0] == glued[1]
