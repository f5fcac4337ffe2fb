"""`topoact serve`: the real server (a subprocess, uvicorn) over a real results tree, its
security answers over HTTP, and the live panel in a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from test_explorer import ARTIFACTS, CHROMIUM

from conftest import ROOT
from topoact import activations, models, serve, store
from topoact.steps.activations import extract_activations
from topoact.steps.epsilon import epsilon_for_store

CLOUD = "activations/digits/digits-cnn/seed-0/top-l2/conv3.zarr"
# The same cloud under another sampling, with no ε estimate: first in the list.
UNESTIMATED = "activations/digits/digits-cnn/seed-0/random/conv3.zarr"
TOPOACT = str(ROOT / ".venv/bin/topoact") if (ROOT / ".venv/bin/topoact").exists() else "topoact"


@pytest.fixture(scope="module")
def results(tmp_path_factory, trained_model, digits_store) -> Path:
    """A results tree as the workflow leaves it: images, a cloud and its ε estimate, and
    a cloud without one."""
    root = tmp_path_factory.mktemp("serve") / "results"
    shutil.copytree(digits_store, root / "data/digits.zarr")
    model, _ = models.load_model(trained_model)
    settings = activations.ExtractionSettings(sampling="top-l2", batch_size=256)
    extract_activations(model, "conv3", root / "data/digits.zarr", root / CLOUD,
                        settings, torch.device("cpu"), progress=False)
    where = root / "epsilon/digits/digits-cnn/seed-0/top-l2"
    where.mkdir(parents=True)
    epsilon_for_store(root / CLOUD, where / "conv3.json", where / "conv3.png", k=5,
                      max_points=None, exact_below=20_000)
    shutil.copytree(root / CLOUD, root / UNESTIMATED)
    (root.parent / "outside.txt").write_text("secret")
    (root / "activations/escape").symlink_to(root.parent)  # a link leaving the results
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_up(base: str, token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            call(base, "/api/clouds", token=token)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(results):
    """The real server on a free port; yields (base URL, token); killed at the end."""
    port = free_port()
    process = subprocess.Popen([TOPOACT, "serve", str(results), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    assert line.startswith(f"open http://127.0.0.1:{port}/?token="), line
    token = line.strip().split("token=")[1]
    base = f"http://127.0.0.1:{port}"
    wait_up(base, token)
    yield base, token
    process.kill()
    process.wait()


def call(base: str, path: str, body: dict | None = None, token: str | None = None,
         host: str | None = None, raw: bytes | None = None) -> tuple[int, dict | bytes]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Topoact-Token"] = token
    if host is not None:
        headers["Host"] = host
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def graph_body(**changes) -> dict:
    return {"cloud": CLOUD, "intervals": 30, "overlap": 0.3, "eps": 3.0, "min_samples": 5,
            **changes}


def test_token_host_traversal_and_parameters_are_checked(server, results):
    base, token = server
    assert call(base, "/api/clouds")[0] == 401
    assert call(base, "/api/clouds", token="wrong")[0] == 401
    assert call(base, "/", token=None)[0] == 401   # the page too, without ?token=
    status, clouds = call(base, "/api/clouds", token=token)
    assert status == 200 and [c["cloud"] for c in clouds] == [UNESTIMATED, CLOUD]
    assert clouds[1]["epsilon"] > 0 and len(clouds[1]["curve"]) > 10
    assert clouds[0]["epsilon"] is None
    assert call(base, "/api/clouds", token=token, host="evil.example:80")[0] == 400
    for cloud in ("../../etc/passwd", "/etc/passwd", "activations/escape/outside.txt",
                  "data/digits.zarr"):
        status, answer = call(base, "/api/graph", graph_body(cloud=cloud), token=token)
        assert status == 403, (cloud, answer)
    assert call(base, "/data/../../outside.txt", token=token)[0] in (403, 404)
    for change, message in (({"eps": 0}, "eps must be in (0"), ({"eps": -1}, "eps must be"),
                            ({"overlap": 1.0}, "overlap must be in [0, 1)"),
                            ({"intervals": 2.5}, "intervals must be a whole number"),
                            ({"cover": "round"}, "cover must be one of")):
        status, answer = call(base, "/api/graph", graph_body(**change), token=token)
        assert status == 400 and message in answer["error"], (change, answer)
    status, _ = call(base, "/api/graph", token=token, raw=b"x" * (64 << 10))
    assert status == 413
    assert not (results / "live").exists()  # nothing written by any of that


def test_a_built_graph_equals_topoact_mapper_and_save_writes_stores(server, results, tmp_path):
    base, token = server
    status, payload = call(base, "/api/graph", graph_body(eps=2.5), token=token)
    assert status == 200
    out = tmp_path / "cli.json"
    subprocess.run([TOPOACT, "mapper", str(results / CLOUD), "--intervals", "30", "--overlap",
                    "0.3", "--eps", "2.5", "--min-samples", "5", "--out", str(out)], check=True,
                   capture_output=True)
    cli = json.loads(out.read_text())
    status, saved = call(base, "/api/save", graph_body(eps=2.5), token=token)
    assert status == 200 and "fixed_epsilon: 2.5" in saved["yaml"]
    zarr_path = results / saved["written"][0]
    assert zarr_path.is_relative_to(results / "live") and zarr_path.suffix == ".zarr"
    # The server's graph has the CLI's node sets (members, not just counts), and the page
    # was sent that graph's nodes.
    graph, _, _ = store.read_graph(zarr_path)
    served = {frozenset(graph.members(node).tolist()) for node in range(graph.n_nodes)}
    assert served == {frozenset(node["membership"]) for node in cli["nodes"]}
    assert len(served) == graph.n_nodes > 3
    assert sorted(n["size"] for n in payload["nodes"]) == sorted(map(len, served))
    info = subprocess.run([TOPOACT, "info", str(zarr_path)], capture_output=True, text=True)
    assert info.returncode == 0 and "mapper" in info.stdout, info.stderr
    assert not list((results / "live").rglob("*.partial"))


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_live_panel_rebuilds_on_the_slider_and_shows_errors(server, results, tmp_path):
    from playwright.sync_api import sync_playwright

    base, token = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        # Playwright evaluates strings, which the page's CSP forbids (see test_explorer).
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        def console(message):
            if message.type == "error":
                problems.append(message.text)

        def response(answer):
            if answer.status >= 400:
                problems.append(f"{answer.status} {answer.url}")

        page.on("console", console)
        page.on("response", response)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.goto(f"{base}/?token={token}")
        page.wait_for_function("window.topoactLive && window.topoactLive.ready")
        # A clean console on load; the panel opens on a cloud with the workflow's ε and
        # estimates none by itself (on a large cloud that takes a while).
        page.wait_for_timeout(300)
        assert problems == [] and not [url for url in asked if "api/curve" in url]
        page.remove_listener("console", console)  # the errors asked for below log too
        page.remove_listener("response", response)
        assert page.locator("#live-cloud").input_value() == CLOUD
        assert page.locator("#live-estimate").is_hidden()
        page.locator("#live-cloud").select_option(UNESTIMATED)
        assert "no ε estimate" in page.locator("#live-status").text_content()
        page.locator("#live-estimate").click()
        page.wait_for_function("document.getElementById('live-estimate').hidden")
        assert [url for url in asked if "api/curve" in url]
        page.locator("#live-cloud").select_option(CLOUD)
        # A build started while one is in flight aborts it; the status counts seconds.
        shown = page.evaluate("""() => { const b = document.getElementById('live-build');
            b.click(); const text = document.getElementById('live-status').textContent;
            b.click(); return text; }""")
        assert shown.startswith("building… 0")
        page.wait_for_function("window.topoactLive.builds === 1")
        assert page.evaluate("window.topoactLive.aborted") == 1
        page.locator("#live-intervals").fill("30")
        # Move the slider and release it: the page asks for the graph and draws it.
        page.evaluate("""() => { const s = document.getElementById('live-eps');
                                 s.value = '2.5'; s.dispatchEvent(new Event('input'));
                                 s.dispatchEvent(new Event('change')); }""")
        page.wait_for_function("window.topoactLive.builds === 2")
        drawn = page.locator("#viewport .glyph").count()
        out = tmp_path / "cli.json"
        subprocess.run([TOPOACT, "mapper", str(results / CLOUD), "--intervals", "30",
                        "--overlap", "0.3", "--eps", "2.5", "--out", str(out)], check=True,
                       capture_output=True)
        assert drawn == len(json.loads(out.read_text())["nodes"]) > 3
        assert "nodes" in page.locator("#live-status").text_content()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-panel.png"))
        page.locator("#live-eps-value").fill("0")
        page.locator("#live-eps-value").dispatch_event("change")
        page.wait_for_function("document.getElementById('live-status').classList.contains('error')")
        assert "eps must be in (0" in page.locator("#live-status").text_content()
        page.locator("#live-eps-value").fill("2.5")
        page.locator("#live-save").click()
        page.wait_for_function("document.getElementById('live-yaml').textContent.length > 0")
        assert "overlaps: [30]" in page.locator("#live-yaml").text_content()
        assert problems == []
        browser.close()



def test_killing_the_server_mid_save_leaves_no_store_that_looks_complete(results, tmp_path):
    port, token, marker = free_port(), "held-save-token", tmp_path / "writing"
    process = subprocess.Popen([sys.executable, str(ROOT / "tests/serve_held_save.py"),
                                str(results), str(marker), str(port), token],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_up(base, token)
    body = graph_body(eps=2.7, intervals=25)
    def save():  # its connection dies with the server
        try:
            call(base, "/api/save", body, token)
        except (urllib.error.URLError, ConnectionError):
            pass

    saving = threading.Thread(target=save, daemon=True)
    saving.start()
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the save never reached the graph store"
    process.send_signal(signal.SIGKILL)  # as a power cut or the OOM killer would
    process.wait()
    request = serve.parse_graph_request(body)
    target = results / "live/digits/digits-cnn/seed-0/top-l2" / request.name / "conv3.zarr"
    def partials() -> list[Path]:  # each save writes under a name of its own
        return list(target.parent.glob(".conv3*.partial"))

    assert partials(), "nothing was half-written: nothing tested"
    assert not (target / "zarr.json").exists()
    with pytest.raises(store.StoreError):
        store.open_store(target, "mapper")
    info = subprocess.run([TOPOACT, "info", str(target)], capture_output=True, text=True)
    assert info.returncode != 0
    # A new server saves the same graph in full (the half-written one is replaced).
    port = free_port()
    again = subprocess.Popen([TOPOACT, "serve", str(results), "--port", str(port)],
                             stdout=subprocess.PIPE, text=True)
    try:
        fresh = again.stdout.readline().strip().split("token=")[1]
        wait_up(f"http://127.0.0.1:{port}", fresh)
        status, saved = call(f"http://127.0.0.1:{port}", "/api/save", body, token=fresh)
        assert status == 200 and store.open_store(target, "mapper")
        assert not partials()
    finally:
        again.kill()
        again.wait()


def test_cache_bound_names_and_config_lines():
    cache = serve.LRU(100)
    for key in "abc":
        cache.put(key, key.upper(), 40)
    assert cache.get("a") is None and cache.get("c") == "C" and cache.get("b") == "B"
    cache.put("d", "D", 40)  # b was used after c: c goes
    assert cache.get("c") is None and cache.get("b") == "B"
    request = serve.GraphRequest(CLOUD, 70, 0.3, 4.25, 5, "balanced", "pca1")
    assert request.name == "intervals-70-overlap-30-epsilon-4.25-min-samples-5-cover-" \
        "balanced-lens-pca1"
    with pytest.raises(serve.Problem, match="min_samples must be a number"):
        serve.parse_graph_request(graph_body(min_samples="5"))
