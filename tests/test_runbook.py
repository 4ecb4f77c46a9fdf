"""The notebook runner: profiles, parameters, reuse of unchanged runs, generated pages."""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from mmrec_lib.progress import PROGRESS_ENV
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
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    first = runbook.execute_notebooks("smoke", out, [source], overrides={"x": 21})
    assert runbook.glued_values(first[0]) == {"answer": 42}
    assert PROGRESS_ENV not in os.environ  # set for the kernel only, then restored
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


NOISY = """\
import os, sys, warnings
from mmrec_lib.progress import tqdm
for _ in tqdm(range(3), desc="tiny-bar"):
    pass
from tqdm.auto import tqdm as other_library_bar
for _ in other_library_bar(range(2), desc="auto-bar"):
    pass
warnings.warn("tiny-warning")
print("kept on purpose")
print("to stderr", file=sys.stderr)
os.write(2, b"fd-level stderr\\n")
"""


@pytest.mark.slow
def test_progress_and_warnings_reach_the_terminal_not_the_notebook(tmp_path):
    """As in `make book`: the runbook in its own process, whose stderr is the terminal."""
    source = _notebook(tmp_path / "noisy.ipynb", body=NOISY)
    out = tmp_path / "out"
    script = (
        "import sys; from pathlib import Path; from mmrec_lib.report import runbook; "
        "runbook.execute_notebooks('smoke', Path(sys.argv[1]), [Path(sys.argv[2])])"
    )
    # Without pytest's marker the kernel diverts fd 2 into the notebook, as in `make book`.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", PROGRESS_ENV)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "notebook 1/1 noisy.ipynb" in result.stdout and "done in" in result.stdout
    terminal = result.stderr
    assert "tiny-bar" in terminal and "3/3" in terminal, terminal[-2000:]
    assert "auto-bar" in terminal and "2/2" in terminal, terminal[-2000:]
    assert "tiny-warning" in terminal and "to stderr" in terminal, terminal[-2000:]

    outputs = [o for cell in nbformat.read(out / "noisy.ipynb", 4).cells for o in cell.outputs]
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs
    shown = json.dumps(outputs)
    for text in ("tiny-bar", "auto-bar", "it/s", "%|", "tiny-warning", "Warning", "stderr"):
        assert text not in shown, f"{text!r} in the executed notebook: {shown}"
    assert "kept on purpose" in shown


def test_clean_outputs_keeps_deliberate_stdout_only():
    nb = nbformat.v4.new_notebook()
    stream = nbformat.v4.new_output
    nb.cells = [nbformat.v4.new_code_cell("")]
    nb.cells[0].outputs = [
        stream("stream", name="stdout", text="BPR:   5%|▌  | 1/20 [00:01<00:19, 1.00s/it]\nkept\n"),
        stream("stream", name="stdout", text="runs: 3run [00:02, 1.50run/s]\n"),
        stream(
            "stream",
            name="stdout",
            text="/x/y.py:3: UserWarning: careful\n  warnings.warn('careful')\nalso kept\n",
        ),
        stream("stream", name="stderr", text="anything\n"),
        stream("display_data", data={runbook.WIDGET_MIME: {"model_id": "1"}, "text/plain": "0%"}),
        stream("display_data", data={"text/plain": "a figure"}),
    ]
    assert [r.split()[0] for r in runbook.clean_outputs(nb)] == [
        "stdout",
        "stdout",
        "stdout",
        "stderr",
        "widget",
    ]
    assert [o.get("text") or o["data"]["text/plain"] for o in nb.cells[0].outputs] == [
        "kept\n",
        "also kept\n",
        "a figure",
    ]
