"""The foreground mode in real front ends: JupyterLab and Voilà, their kernels started with
COURSE_PANEL_MODE=foreground, show a panel's new result after a slider change, the kernel busy while it runs."""
import json
import os
import secrets
import sys

import pytest
from test_browser import (AMNESIA, ROOT, browser, free_port, open_page, panel_says, serve_voila,  # noqa: F401
                          start_server, stop_server, summary_text)

pytestmark = pytest.mark.browser
FOREGROUND = {**os.environ, "COURSE_PANEL_MODE": "foreground"}


@pytest.fixture(scope="module")
def foreground_lab(tmp_path_factory):
    """JupyterLab over notebook 04 with the panels in the foreground; yields the notebook's URL."""
    root = tmp_path_factory.mktemp("foreground-lab")
    (root / AMNESIA).write_bytes((ROOT / "notebooks" / AMNESIA).read_bytes())
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))  # every cell in page
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={root / 'settings'}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
           "--LabApp.expose_app_in_browser=True"]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    server, log = start_server(cmd, root / "lab.log", f"{base}/api/status?token={token}", "JupyterLab", cwd=root,
                               env=FOREGROUND)
    yield f"{base}/lab/tree/{AMNESIA}?token={token}&reset"
    stop_server(server, log)


@pytest.fixture(scope="module")
def foreground_voila(tmp_path_factory):
    """Notebook 04 as a Voilà app with the panels in the foreground; yields its URL."""
    yield from serve_voila(tmp_path_factory.mktemp("foreground-voila"), env=FOREGROUND)


def nudge_left(page):
    """One ArrowLeft on the length slider's handle: the panel runs again."""
    handle = page.locator(".panel-length .noUi-handle, .panel-length [role=slider]").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    handle.press("ArrowLeft")


def test_jupyterlab_shows_a_foreground_run_and_is_busy_during_it(foreground_lab, browser):  # noqa: F811
    page = open_page(browser, foreground_lab, 240)
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("document.querySelector('.panel-summary pre')"
                           " && document.querySelector('.panel-summary pre').innerText.includes('Length 20,')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    nudge_left(page)  # 20 -> 19, run in the kernel's own thread
    # the kernel is busy while the panel says it runs (in the background mode the kernel is idle by then)
    page.wait_for_function(f"{panel_says(page, 'running')}"
                           " && document.querySelector('#jp-main-statusbar').innerText.includes('Busy')")
    page.wait_for_function("document.querySelector('.panel-summary pre').innerText.includes('Length 19,')"
                           f" && {panel_says(page, 'done in')}")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    assert "Length 19," in summary_text(page)
    page.close()


def test_voila_shows_a_foreground_run(foreground_voila, browser):  # noqa: F811
    page = open_page(browser, foreground_voila, 240)
    page.wait_for_function("document.querySelector('.panel-summary pre')"
                           " && document.querySelector('.panel-summary pre').innerText.includes('Length 20,')")
    nudge_left(page)
    page.wait_for_function("document.querySelector('.panel-summary pre').innerText.includes('Length 19,')"
                           f" && {panel_says(page, 'done in')}")
    assert "Length 19," in summary_text(page)
    page.close()
