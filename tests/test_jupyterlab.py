"""JupyterLab, one of the three ways this companion is used: Lab serves a notebook on
localhost, headless Chromium opens it (which starts the project's kernel), the notebook runs in
that kernel with small parameters without an error output, the library's progress bars are
widgets there, and Lab shows the run notebook."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from mmrec_lib.progress import PROGRESS_ENV
from mmrec_lib.report import runbook
from tests.test_book import CHROMIUM_FLAGS

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

NOTEBOOK = "30_paper_b_table1"
TOKEN = uuid.uuid4().hex
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("MMREC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (MMREC_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return chromium


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture()
def lab(tmp_path):
    """JupyterLab on a free localhost port with a token, serving a scratch folder, with its
    own settings and runtime files (and the tests' mmrec cache); yields (base URL, folder)."""
    folder, port = tmp_path / "notebooks", _free_port()
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", PROGRESS_ENV)}
    env |= {
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={folder}",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
            f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
            "--LabApp.extension_manager=readonly",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "lab.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if server.poll() is not None:
                pytest.fail("JupyterLab exited:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            try:
                _get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield base, folder
    finally:
        server.terminate()  # the server shuts its kernels down
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _open_in_chromium(chromium: str, url: str, profile: Path) -> str:
    """The DOM of a JupyterLab page, once Lab has had time to load (virtual time)."""
    return subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


class Kernel:
    """A kernel of the Jupyter server, driven over its websocket (the protocol Lab speaks)."""

    def __init__(self, base: str, kernel_id: str):
        import websocket  # websocket-client, a dependency of jupyter_server

        url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        self.session = uuid.uuid4().hex
        self.socket = websocket.create_connection(
            f"{url}?session_id={self.session}&token={TOKEN}", timeout=300
        )

    def execute(self, code: str) -> list:
        """Run code; return its outputs as nbformat outputs."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": self.session,
            "username": "test",
            "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
        self.socket.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": {**content, "user_expressions": {}, "stop_on_error": True},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        outputs, replied, idle = [], False, False
        while not (replied and idle):
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "execute_reply":
                replied = True
            elif kind == "status":
                idle = message["content"]["execution_state"] == "idle"
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(message))
        return outputs

    def close(self) -> None:
        self.socket.close()


def test_a_notebook_opens_and_runs_in_jupyterlab_with_the_projects_kernel(lab, tmp_path):
    chromium = _chromium()
    base, folder = lab
    # Small parameters, as a person would set them by editing the parameters cell.
    source = runbook.NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb"
    parameters = runbook.notebook_parameters(runbook.load_profile("smoke"), source)
    import papermill

    papermill.execute_notebook(
        source,
        folder / source.name,
        parameters=parameters,
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )

    page = f"{base}/lab/tree/{source.name}?token={TOKEN}"
    dom = _open_in_chromium(chromium, page, tmp_path / "chromium")
    assert "jp-LabShell" in dom, "Chromium did not load the JupyterLab application"
    assert "jp-Notebook" in dom and "jp-Cell" in dom, "Lab did not show the notebook's cells"
    sessions = _get(f"{base}/api/sessions?token={TOKEN}")
    opened = [s for s in sessions if s["path"] == source.name]
    assert opened, f"opening the notebook started no kernel: {sessions}"
    assert opened[0]["kernel"]["name"] == "python3"

    kernel = Kernel(base, opened[0]["kernel"]["id"])
    try:
        (prefix,) = kernel.execute("import sys; print(sys.prefix, end='')")
        assert prefix["text"] == sys.prefix, "the kernel Lab offers is not the project's env"
        bar = kernel.execute("from mmrec_lib.progress import tqdm\nfor _ in tqdm(range(3)): pass")
        assert any(WIDGET_MIME in o.get("data", {}) for o in bar), f"no widget but {bar}"
        notebook = nbformat.read(folder / source.name, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = kernel.execute(cell.source)
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert not errors, f"{cell.source[:200]!r} failed:\n" + "\n".join(
                    errors[0].traceback
                )
    finally:
        kernel.close()
    nbformat.write(notebook, folder / source.name)

    dom = _open_in_chromium(chromium, page, tmp_path / "chromium")
    assert "jp-OutputArea-output" in dom, "Lab shows no output of the run notebook"
    assert "<img" in dom, "Lab shows no figure of the run notebook"
    assert "Traceback (most recent call last)" not in dom
