"""`topoact serve` bounded: the cost of each request, cancelled builds, chunked bodies,
binding beyond loopback, and a load test (the real server, real HTTP, loopback only;
every loop stops by itself)."""

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT
from topoact import serve

sys.path.insert(0, str(ROOT / "bench"))
import serve_load  # noqa: E402  (bench/serve_load.py: the load driver and its data)
from serve_load import LARGE, SMALL, call, make_results, start_server  # noqa: E402

# Real servers started per fixture and a 30 s load: left out of `make test-fast`.
pytestmark = pytest.mark.load

TOPOACT = str(ROOT / ".venv/bin/topoact") if (ROOT / ".venv/bin/topoact").exists() else "topoact"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return make_results(tmp_path_factory.mktemp("load"))


@pytest.fixture(scope="module")
def server(results):
    """(base URL, token) of a server whose builds may take 20 s."""
    process, base, token = start_server(results, "--max-build-s", "20")
    yield base, token
    process.kill()
    process.wait()


@pytest.fixture()
def tight_server(results):
    """(base URL, token) of a server whose builds may take 2 s."""
    process, base, token = start_server(results, "--max-build-s", "2")
    yield base, token
    process.kill()
    process.wait()


def building(base: str, token: str) -> int:
    return call(base, token, "/api/status")[1]["building"]


def test_an_over_budget_request_is_refused_at_once_with_its_estimate(tight_server):
    """Refused from the estimate alone: no build starts (the server's count of builds
    started does not move); the time each refusal took is printed, not asserted (on a
    busy machine it varies; bench/serve_load.py measures it)."""
    base, token = tight_server
    started = call(base, token, "/api/status")[1]["builds_started"]
    for body in ({"cloud": LARGE, "intervals": 1000, "overlap": 0.3, "eps": 4.0,
                  "min_samples": 5, "lens": "pca2"},      # 10⁶ cubes
                 {"cloud": LARGE, "intervals": 1, "overlap": 0.3, "eps": 4.0,
                  "min_samples": 5},                      # all 120,000 points at once
                 {"cloud": LARGE, "intervals": 10, "overlap": 0.3, "eps": 4.0,
                  "min_samples": 5, "lens": "codensity"}):  # a k-NN of 120,000 points
        start = time.monotonic()
        status, answer = call(base, token, "/api/graph", body)
        took = time.monotonic() - start
        print(f"{body.get('lens', 'l2')} × {body['intervals']}: {status} in {took:.2f} s: "
              f"{answer['error']}")
        assert status == 400 and "the budget is 2 s (--max-build-s)" in answer["error"]
    assert building(base, token) == 0
    assert call(base, token, "/api/status")[1]["builds_started"] == started


def test_a_build_whose_client_leaves_stops_within_an_interval(server):
    base, token = server
    # Balanced intervals (equal counts) take about equal times: "one interval" is then
    # 2 × whole / intervals with the server's two workers.
    body = {"cloud": LARGE, "intervals": 12, "overlap": 0.3, "eps": 4.0, "min_samples": 5,
            "cover": "balanced"}
    start = time.monotonic()
    assert call(base, token, "/api/graph", body)[0] == 200
    whole = time.monotonic() - start
    # The same cost (another ε, so not from the cache), and the client leaves.
    payload = json.dumps({**body, "eps": 4.05}).encode()
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"POST /api/graph HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"X-Topoact-Token: " + token.encode() + b"\r\n"
                           b"Content-Type: application/json\r\nContent-Length: "
                           + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        deadline = time.monotonic() + 10
        while building(base, token) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert building(base, token) == 1
    left = time.monotonic()
    while building(base, token) and time.monotonic() < left + 30:
        time.sleep(0.02)
    freed = time.monotonic() - left
    print(f"a whole build {whole:.2f} s ({body['intervals']} intervals); freed {freed:.2f} s "
          "after the client left")
    assert building(base, token) == 0
    one_interval = 2 * whole / body["intervals"]
    assert freed < 2 * one_interval + serve.POLL_S * 3  # the intervals running finish


def test_a_chunked_body_over_the_limit_is_refused_before_it_ends(server):
    base, token = server
    port = int(base.rsplit(":", 1)[1])
    chunk = b"x" * 8192
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"POST /api/graph HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"X-Topoact-Token: " + token.encode() + b"\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):  # 24 KiB, over the 16 KiB limit; the body's end is never sent
            connection.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert serve.MAX_BODY < 3 * len(chunk)


def test_binding_beyond_loopback_needs_the_host_names(results):
    refused = subprocess.run([TOPOACT, "serve", str(results), "--host", "0.0.0.0"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--allowed-host NAME" in refused.stderr
    assert serve.allowed_hosts("0.0.0.0", ["lab-box"]) == ["127.0.0.1", "lab-box", "localhost"]
    assert serve.allowed_hosts("192.0.2.7", ["lab-box"]) == ["lab-box"]
    assert serve.allowed_hosts("::1") == ["127.0.0.1", "::1", "localhost"]
    # Served under a name given: another loopback address, so the test stays on loopback.
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([TOPOACT, "serve", str(results), "--host", "127.0.0.2",
                                "--port", str(port), "--allowed-host", "lab-box"],
                               stdout=subprocess.PIPE, text=True)
    try:
        token = process.stdout.readline().strip().split("token=")[1]
        for host, expected in (("lab-box", b"200"), ("evil.example", b"400")):
            deadline = time.monotonic() + 60
            while True:
                try:
                    connection = socket.create_connection(("127.0.0.2", port), timeout=10)
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline, "the server never listened"
                    time.sleep(0.1)
            with connection:
                connection.sendall(f"GET /api/clouds HTTP/1.1\r\nHost: {host}\r\n"
                                   f"X-Topoact-Token: {token}\r\n\r\n".encode())
                assert connection.recv(64).split()[1] == expected, host
    finally:
        process.kill()
        process.wait()


def test_eight_clients_for_30_seconds(tmp_path):
    figures = serve_load.run_load(seconds=30, clients=8)
    print(json.dumps({k: figures[k] for k in ("requests", "cheap", "build-small",
                                              "build-large", "save")}, indent=1))
    before, after = figures["before"], figures["after"]
    assert figures["statuses"] == [200]
    assert min(figures[k]["count"] for k in ("cheap", "build-small", "build-large", "save"))
    assert figures["cheap"]["p95_s"] < 0.5
    assert after["torch_threads"] == before["torch_threads"] and after["building"] == 0
    # Memory: the cache's bound plus one build (the engine's tiles and edge lists: 512 MB).
    assert after["rss_mb"] - before["rss_mb"] < serve_load.CACHE_MB + 512
    assert figures["saved_stores"] == 1 and figures["problems"] == []
    assert figures["partials"] == []


def test_saves_of_one_graph_racing_give_one_complete_store(server, results):
    base, token = server
    body = {"cloud": SMALL, "intervals": 12, "overlap": 0.3, "eps": 5.5, "min_samples": 5}
    answers: list = []
    threads = [threading.Thread(target=lambda: answers.append(
        call(base, token, "/api/save", body))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in answers] == [200] * 6
    assert len({tuple(answer["written"]) for _, answer in answers}) == 1
    written = [results / path for path in answers[0][1]["written"]]
    assert all(path.exists() for path in written)
    assert not list((results / "live").rglob("*.partial"))
    info = subprocess.run([TOPOACT, "info", str(next(p for p in written if p.suffix == ".zarr"))],
                          capture_output=True, text=True)
    assert info.returncode == 0, info.stderr


def test_a_cloud_named_two_ways_is_one_cloud(server, results):
    base, token = server
    body = {"cloud": SMALL, "intervals": 9, "overlap": 0.3, "eps": 5.0, "min_samples": 5}
    dotted = SMALL.replace("/random/", "/random/./")
    first = call(base, token, "/api/graph", body)[1]
    again = call(base, token, "/api/graph", {**body, "cloud": dotted})[1]
    assert first["request"]["cloud"] == again["request"]["cloud"] == SMALL
