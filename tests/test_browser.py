"""Real-browser tests: JupyterLab served headless, driven by Debian's Chromium through Playwright."""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-dev-shm-usage"]
AMNESIA = "04_amnesia_test.ipynb"
SLIDES = "01_introduction.ipynb"

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        pytest.fail("CI needs Debian's chromium for the browser tests (make test installs it as root)",
                    pytrace=False)
    pytest.skip("no Chromium here (make test installs Debian's chromium when run as root)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cmd, log_path, url, what, **popen):
    """Start `cmd`, its output in `log_path`; return (process, open log) once `url` answers HTTP (any status)."""
    log = open(log_path, "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **popen)
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2)
            return server, log
        except urllib.error.HTTPError:
            return server, log  # it answers (a path that only accepts POST, say)
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    stop_server(server, log, group=popen.get("start_new_session", False))
    pytest.fail(f"{what} did not start: " + log_path.read_text()[-2000:])


def stop_server(server, log, group=False):
    """End a server from start_server (with `group`, the whole process group it leads) and close its log."""
    if server.poll() is None:
        if group:
            os.killpg(server.pid, 15)
        else:
            server.terminate()
        server.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over a copy of the notebooks, every cell in the page; yields (base URL, token)."""
    root = tmp_path_factory.mktemp("lab")
    for nb in (AMNESIA, SLIDES):
        shutil.copy(ROOT / "notebooks" / nb, root / nb)
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={root / 'settings'}", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.workspaces_dir={root / 'workspaces'}"]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    server, log = start_server(cmd, root / "lab.log", f"{base}/api/status?token={token}", "JupyterLab", cwd=root)
    yield base, token
    stop_server(server, log)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def open_page(browser, url, timeout_s, width=1400, height=1000):
    """A new page at `url`, every wait bounded by `timeout_s`."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(timeout_s * 1000)
    page.goto(url)
    return page


def summary_text(page):
    """The amnesia panel's printed result."""
    return page.locator(".panel-summary").first.inner_text()


def test_amnesia_notebook_runs_and_reacts_to_the_slider(lab, browser):
    base, token = lab
    page = open_page(browser, f"{base}/lab/tree/{AMNESIA}?token={token}&reset", 240)
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("document.querySelector('.panel-summary pre')"
                           " && document.querySelector('.panel-summary pre').innerText.includes('Test string')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    page.wait_for_timeout(1000)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    before = summary_text(page)
    length = int(re.search(r"Length (\d+)", before).group(1))

    new_length = length - 8
    readout = page.locator(".panel-length .widget-readout").first
    readout.scroll_into_view_if_needed()
    readout.click()
    readout.press("Control+a")
    readout.type(str(new_length))
    readout.press("Enter")  # the panel runs once the value is set: no Run needed
    page.wait_for_function(f"document.querySelector('.panel-summary pre').innerText.includes('Length {new_length},')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    after = summary_text(page)
    OUTPUT.mkdir(exist_ok=True)
    page.locator(".panel-summary").first.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "amnesia_notebook.png"))

    assert f"Length {new_length}," in after and f"Length {length}," not in after

    def answers(text):
        return re.findall(r"answers:? +([A-Z]) \(", text)

    def string(text):
        return re.search(r"Test string[^:]*: ([A-Z ]+)", text).group(1).strip()
    assert len(string(after).split()) == new_length and len(answers(after)) >= 2
    assert (string(after), answers(after)) != (string(before), answers(before))
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, "a cell shows an error"
    page.close()


def run_all_and_wait_for_the_panel(page):
    """Run every cell of the open notebook; return the seconds its panel's first run took (its own message)."""
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("document.querySelector('.panel-message')"
                           " && document.querySelector('.panel-message').innerText.includes('done in')")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    return float(re.search(r"done in ([\d.]+) s", page.locator(".panel-message").first.inner_text()).group(1))


def panel_says(page, text):
    """A JavaScript condition: the panel's message line contains `text`."""
    return f"document.querySelector('.panel-message').innerText.includes({json.dumps(text)})"


RECORD_JS = """() => {
  const seen = window.panelEvents = [], last = {};
  for (const [kind, selector] of [['message', '.panel-message'], ['summary', '.panel-summary']]) {
    const node = document.querySelector(selector);
    new MutationObserver(() => {
      const text = node.innerText;
      if (last[kind] !== text) { last[kind] = text; seen.push([kind, text]); }
    }).observe(node, {subtree: true, childList: true, characterData: true});
  }
}"""


def panel_events(page):
    """What the panel said and showed since the last call, in order: [("message" or "summary", text)]."""
    return [tuple(event) for event in page.evaluate("window.panelEvents.splice(0)")]


def test_arrow_key_nudges_cost_one_run_and_stop_ends_the_run(lab, browser):
    base, token = lab
    page = open_page(browser, f"{base}/lab/tree/{AMNESIA}?token={token}&reset", 300)
    run_all_and_wait_for_the_panel(page)
    assert "Length 20," in summary_text(page)
    page.evaluate(RECORD_JS)  # from here on, every message and summary the panel shows, in order

    handle = page.locator(".panel-length .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(7):  # a student nudging 20 -> 27, about as fast as one taps a key
        handle.press("ArrowRight")
        page.wait_for_timeout(150)
    page.wait_for_function("document.querySelector('.panel-summary pre').innerText.includes('Length 27,')"
                           f" && {panel_says(page, 'done in')}")
    text = summary_text(page)
    assert len(re.search(r"Test string[^:]*: ([A-Z ]+)", text).group(1).split()) == 27
    events = panel_events(page)
    shown = [re.search(r"Length (\d+),", t).group(1) for kind, t in events if kind == "summary" and "Length" in t]
    finished = [t for kind, t in events if kind == "message" and "done in" in t]
    assert shown == ["27"] and len(finished) == 1, events  # one run, with the last value: none for 21-26

    handle.press("ArrowRight")  # move the slider, then press Run a moment later (what a student does)
    page.wait_for_timeout(300)
    page.locator(".panel-run").first.click()
    page.wait_for_function("document.querySelector('.panel-summary pre').innerText.includes('Length 28,')"
                           f" && {panel_says(page, 'done in')}")
    assert "stopped after" not in summary_text(page)  # Run did not end the run the move had started

    for name, value in (("length", 60), ("epochs", 50)):  # about a minute of training
        readout = page.locator(f".panel-{name} .widget-readout").first
        readout.click()
        readout.press("Control+a")
        readout.type(str(value))
        readout.press("Enter")
    page.wait_for_function(panel_says(page, "running… RNNModel epoch") + " || "
                           + panel_says(page, "running… LSTMModel"))
    assert "about" in page.locator(".panel-message").first.inner_text()  # the estimate, over 30 s
    page.wait_for_timeout(1500)  # into the training
    button = page.locator(".panel-stop").first
    assert button.inner_text().strip() == "Stop" and button.is_enabled()
    panel_events(page)  # forget what came before the click
    button.click()
    page.wait_for_function(panel_says(page, "stopped after") + " && !" + panel_says(page, "shown below"))
    text = summary_text(page)
    page.locator(".panel-summary").first.scroll_into_view_if_needed()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "amnesia_stopped.png"))
    messages = [t for kind, t in panel_events(page) if kind == "message"]
    said = next(i for i, m in enumerate(messages) if "stopped after" in m)
    assert "shown below" in messages[said], messages  # said before the figures are drawn
    assert not [m for m in messages[said:] if m.startswith("running…")], messages  # no training after the Stop
    assert "Length 60, 50 epochs" in text and "stopped after" in text  # what the models learned is shown
    cut = [int(k) for k in re.findall(r"stopped after (\d+) of 50 epochs", text)]
    assert cut and all(k < 50 for k in cut), text  # ended by the Stop, not by the end of its 50 epochs
    page.wait_for_function("document.querySelector('.panel-stop').disabled")
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, "a cell shows an error"
    page.close()


def test_rise_slideshow_steps_with_arrow_keys(lab, browser):
    base, token = lab
    page = open_page(browser, f"{base}/rise/{SLIDES}?token={token}", 120, 1280, 800)
    page.wait_for_selector(".reveal .slides section.present")
    first = page.evaluate("document.querySelector('.reveal .slides section.present').innerText")
    indices = []
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(400)
        indices.append(page.evaluate("document.querySelector('.reveal .slides > section.present')"
                                     " ? Array.from(document.querySelectorAll('.reveal .slides > section'))"
                                     ".findIndex(s => s.classList.contains('present')) : -1"))
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "rise_slides.png"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(400)
    back = page.evaluate("Array.from(document.querySelectorAll('.reveal .slides > section'))"
                         ".findIndex(s => s.classList.contains('present'))")
    assert "LSTM" in first
    assert indices == sorted(indices) and indices[-1] > 0, indices
    assert back == indices[-1] - 1
    page.close()


def make_command(*args):
    """The real `make ARGS` on the environment these tests run in, its set-up stamps taken as done (-o)."""
    return ["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{sys.prefix}/.installed-course",
            "-o", f"{sys.prefix}/.installed", f"VENV={sys.prefix}", *args]


def make(*args):
    """Run `make ARGS` (make_command) to its end."""
    return subprocess.run(make_command(*args), capture_output=True, text=True, timeout=600)


def blocking_the_network(page):
    """Abort every request `page` makes beyond this machine (file:, data:, blob:, 127.0.0.1); returns their list."""
    outside = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:", "http://127.0.0.1")):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return outside


@pytest.fixture(scope="module")
def offline_export(tmp_path_factory):
    """What `make html NB=04` writes (handout, slides, their lib/), into a temporary folder."""
    if not shutil.which("npm"):
        pytest.skip("no npm here: make html takes reveal.js, MathJax, require.js and jQuery from the npm registry")
    out = tmp_path_factory.mktemp("export")
    done = make("html", "NB=04", f"EXPORT={out}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


SLIDES_JS = """async () => {
  const R = await new Promise((ok, no) => require(['../lib/reveal.js/dist/reveal.js'], ok, no));
  R.configure({transition: 'none'});
  const seen = [];
  for (const slide of R.getSlides()) {
    const {h, v} = R.getIndices(slide);
    R.slide(h, v);
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    seen.push({h, v, content: slide.scrollHeight, box: slide.clientHeight, overflow: getComputedStyle(slide).overflowY,
               bottom: slide.getBoundingClientRect().bottom, height: R.getConfig().height});
  }
  R.slide(0, 0);
  return seen;
}"""
LAST_FRAGMENT_JS = """() => {
  const slide = document.querySelector('.reveal .slides section.present:not(.stack)');
  const shown = slide.querySelectorAll('.fragment.visible'), box = slide.getBoundingClientRect();
  if (!shown.length) return null;
  const last = shown[shown.length - 1].getBoundingClientRect();
  return {hash: location.hash, top: last.top, bottom: last.bottom, boxTop: box.top, boxBottom: box.bottom};
}"""


def test_offline_slides_fetch_nothing_and_no_slide_is_cut_off(offline_export, browser):
    handout = browser.new_page(viewport={"width": 1280, "height": 720})
    outside = blocking_the_network(handout)
    handout.goto((offline_export / "html" / AMNESIA.replace(".ipynb", ".html")).as_uri())
    handout.wait_for_load_state("load")
    handout.wait_for_timeout(1000)
    assert outside == [], outside
    handout.close()

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    outside = blocking_the_network(page)
    page.set_default_timeout(60_000)
    page.goto((offline_export / "slides" / AMNESIA.replace(".ipynb", ".slides.html")).as_uri())
    page.wait_for_selector(".reveal.ready")
    page.wait_for_timeout(1000)
    assert outside == [], f"the offline slides asked the network for {outside}"

    slides = page.evaluate(SLIDES_JS)
    tall = [s for s in slides if s["content"] > s["height"] + 1]
    cut = [s for s in tall if s["overflow"] not in ("auto", "scroll") or s["box"] > s["height"] + 1]
    print(f"\n{len(slides)} slides, {len(tall)} taller than the {slides[0]['height']}-px canvas, {len(cut)} cut off")
    assert tall, "no slide is taller than the canvas: this test would check nothing"
    assert cut == [], cut  # every slide fits or scrolls within the canvas
    assert all(s["bottom"] <= 720 + 1 for s in slides), [s for s in slides if s["bottom"] > 721]

    hidden, steps, where = [], 0, None
    while steps < 200 and page.evaluate("location.hash") != where:  # the deck with the arrow key, to its end
        where = page.evaluate("location.hash")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(20)
        steps += 1
        last = page.evaluate(LAST_FRAGMENT_JS)  # each fragment that appears is in view
        if last and not (last["top"] < last["boxBottom"] and last["top"] >= last["boxTop"] - 1):
            hidden.append(last)
    assert where.startswith(f"#/{max(s['h'] for s in slides)}"), f"the arrow key stopped at {where}"
    assert hidden == [], hidden
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "offline_slides.png"))
    page.close()


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory):
    """The real `make lab` (WORK in a temporary folder, no browser of its own, this test's port and token, a fresh
    user-settings folder); yields (base URL, token, its working copy)."""
    root = tmp_path_factory.mktemp("make-lab")
    port, token = free_port(), secrets.token_hex(16)
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token} "
            f"--LabApp.user_settings_dir={root / 'settings'} --LabApp.workspaces_dir={root / 'workspaces'}")
    base = f"http://127.0.0.1:{port}"
    server, log = start_server(make_command("lab", f"WORK={root / 'work'}", f"ARGS={args}"), root / "lab.log",
                               f"{base}/api/status?token={token}", "make lab's JupyterLab", start_new_session=True)
    yield base, token, root / "work" / "notebooks"
    stop_server(server, log, group=True)  # make and the JupyterLab it started


def test_make_lab_opens_notebook_01_of_the_working_copy_without_the_news_prompt(make_lab, browser):
    base, token, copy = make_lab
    listing = json.load(urllib.request.urlopen(f"{base}/api/contents?token={token}"))
    assert sorted(c["name"] for c in listing["content"] if c["name"].endswith(".ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # JupyterLab's root is the working copy
    assert (copy / SLIDES).is_file()
    schema = json.load(urllib.request.urlopen(
        f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"))["schema"]
    assert schema["properties"]["fetchNews"]["default"] == "false"

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    outside = blocking_the_network(page)
    page.set_default_timeout(120_000)
    page.goto(f"{base}/?token={token}")  # where the browser that `make lab` opens lands
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    page.wait_for_timeout(3000)  # the news question, where it is asked, comes within a second or two of the start
    assert page.url.split("?")[0] == f"{base}/lab/tree/{SLIDES}"
    tab = page.locator(".jp-mod-current .lm-TabBar-tabLabel, .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    assert SLIDES in tab.all_inner_texts()
    toasts = page.locator(".Toastify__toast").all_inner_texts()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "make_lab.png"))
    assert not [t for t in toasts if "news" in t.lower()], toasts
    assert outside == [], outside
    page.close()


def serve_voila(root, env=None):
    """Notebook 04 served by Voilà, its log in `root` (`env`: the server's environment): yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
           "--Voila.port_retries=0", str(ROOT / "notebooks" / AMNESIA)]
    base = f"http://127.0.0.1:{port}"
    server, log = start_server(cmd, root / "voila.log", f"{base}/voila/api/shutdown", "Voilà", cwd=ROOT / "notebooks",
                               env=env)
    yield base
    stop_server(server, log)


@pytest.fixture(scope="module")
def voila_app(tmp_path_factory):
    """Notebook 04 served as a standalone app by Voilà (what `make app NB=04` runs); yields its URL."""
    yield from serve_voila(tmp_path_factory.mktemp("voila"))


def test_voila_app_hides_the_code_and_its_slider_reruns(voila_app, browser):
    page = open_page(browser, voila_app, 240)
    page.wait_for_function("document.querySelector('.panel-summary pre')"
                           " && document.querySelector('.panel-summary pre').innerText.includes('Test string')")
    assert "Length 20," in summary_text(page)
    assert "helpers.Panel(" not in page.content() and page.locator(".jp-InputArea-editor").count() == 0
    handle = page.locator(".panel-length .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    handle.press("ArrowLeft")  # 20 -> 19: the panel runs again in the app's kernel
    page.wait_for_function("document.querySelector('.panel-summary pre').innerText.includes('Length 19,')"
                           f" && {panel_says(page, 'done in')}")
    text = summary_text(page)
    assert len(re.search(r"Test string[^:]*: ([A-Z ]+)", text).group(1).split()) == 19
    OUTPUT.mkdir(exist_ok=True)
    page.locator(".panel-summary").first.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "voila_app.png"))
    page.close()
