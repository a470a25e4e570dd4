"""The PRM HTTP server: a real server on a free port, a real client, scores and every refusal."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from prm_http import raw_request, request, score_body, serving

from openrlhf_pure.cli.serve_prm import main as serve_main
from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig
from openrlhf_pure.engines.prm_server import PRMServer, RequestError, ServerLimits, parse_items

PROMPT = "What is 12 + 30?"
STEPS = [["First, we add:", "12 + 30 = 42.", "So \\boxed{42}."], ["12 + 30 = 41."], []]


@pytest.fixture(scope="module")
def scorer(prm):
    """A scorer on the tiny PRM."""
    return PRMScorer(prm)


@pytest.fixture(scope="module")
def server(scorer):
    """A server on 127.0.0.1 and a free port, with small limits; shut down and closed afterwards."""
    srv = PRMServer(scorer, port=0, limits=ServerLimits(max_body_bytes=4096, max_items=4, max_steps=5))
    thread = srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_binds_localhost_by_default_and_reports_health(server, prm):
    assert server.server_address[0] == "127.0.0.1" and server.server_address[1] > 0
    assert server.address == f"http://127.0.0.1:{server.server_address[1]}"
    status, body = request(server, "GET", "/health")
    assert status == 200
    assert body["status"] == "ok" and body["step_format"] == prm.step_format.name and body["model"]
    assert body["limits"]["max_items"] == 4
    assert (body["family"], body["score"], body["score_transform"], body["scale"]) == (
        "pure",
        "p_diff",
        "none",
        "signed",
    )


def test_steps_scores_equal_the_scorer(server, scorer):
    items = [{"prompt": PROMPT, "steps": steps} for steps in STEPS]
    status, body = request(server, "POST", "/score", {"items": items})
    assert status == 200 and len(body["scores"]) == 3
    expected = scorer.score_steps([PROMPT] * 3, STEPS)
    for got, want in zip(body["scores"][:2], expected[:2]):
        torch.testing.assert_close(torch.tensor(got), want, rtol=0, atol=1e-6)
    assert body["scores"][2] == [] and expected[2] is None


def test_response_items_split_on_blank_lines_like_score_responses(server, scorer):
    responses = ["First, we add:\n\n12 + 30 = 42.\n\nSo \\boxed{42}.", "", "One step"]
    items = [{"prompt": PROMPT, "response": r} for r in responses]
    status, body = request(server, "POST", "/score", {"items": items})
    assert status == 200 and [len(s) for s in body["scores"]] == [3, 0, 1]
    by_steps = scorer.score_steps([PROMPT], [STEPS[0]])[0]
    torch.testing.assert_close(torch.tensor(body["scores"][0]), by_steps, rtol=0, atol=1e-6)
    by_tokens, layout = scorer.score_responses([PROMPT] * 3, responses)
    assert layout.num_steps.tolist() == [3, 0, 1]
    torch.testing.assert_close(torch.tensor(body["scores"][0]), by_tokens[0], rtol=0, atol=1e-6)
    status, empty = request(server, "POST", "/score", {"items": []})
    assert status == 200 and empty == {"scores": []}


def test_body_over_the_limit_is_refused_unread(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest("POST", "/score")
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()  # the declared body is never sent: the server must answer without reading it
        response = conn.getresponse()
        assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [("/score", "application/json", 413), ("/score", "text/plain", 413), ("/nowhere", "text/plain", 404)],
)
def test_a_client_still_uploading_reads_the_refusal_not_a_reset(server, path, content_type, status):
    # 8 MiB, more than the socket buffers hold: the client is still sending when the server answers. A server
    # that closed with the body unread reset the connection, and the client's send failed before any answer.
    size = 8 * 2**20
    head = f"POST {path} HTTP/1.0\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n\r\n"
    got, headers, body = raw_request(server, head.encode() + b"x" * size)
    assert got == status and headers["content-type"] == "application/json" and json.loads(body)["error"]


def test_discarding_an_unread_body_stops_at_max_discard_bytes(scorer, caplog):
    # the client declares 100,000 bytes and sends 2,000: the server discards 1,000 (its bound) and closes
    limits = ServerLimits(max_body_bytes=10, max_discard_bytes=1000)
    caplog.set_level(logging.DEBUG, logger="openrlhf_pure.engines.prm_server")
    with serving(scorer, limits=limits) as srv:
        with socket.create_connection(srv.server_address[:2], timeout=30) as sock:
            client = "{}:{}".format(*sock.getsockname()[:2])
            sock.sendall(b"POST /score HTTP/1.0\r\nContent-Length: 100000\r\n\r\n" + b"x" * 2000)
            with contextlib.suppress(ConnectionResetError):  # the 1,000 bytes left unread may reset it
                while sock.recv(65536):
                    pass
        discarded = []
        while not discarded:  # the handler's thread logs once it has closed
            discarded = [r.getMessage() for r in caplog.records if r.getMessage().endswith(f"body from {client}")]
            time.sleep(0.01)
    assert discarded == [f"discarded 1000 bytes of a refused request's body from {client}"]


def test_missing_or_bad_content_length(server):
    host, port = server.server_address[:2]
    for value, expected in ((None, 411), ("abc", 400), ("-1", 400), ("+5", 400), ("1_0", 400)):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.putrequest("POST", "/score")
            conn.putheader("Content-Type", "application/json")
            if value is not None:
                conn.putheader("Content-Length", value)
            conn.endheaders()
            response = conn.getresponse()
            assert response.status == expected and "Content-Length" in json.loads(response.read())["error"]
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        ([1, 2], "must be a JSON object"),
        ({}, "missing field 'items'"),
        ({"items": "x"}, "'items' must be a list"),
        ({"items": [{"prompt": "q", "steps": []}, {"steps": ["a"]}]}, "items[1]: missing field 'prompt'"),
        ({"items": [{"prompt": 3, "steps": []}]}, "items[0].prompt must be a string, got int"),
        ({"items": [{"prompt": "q", "steps": "a"}]}, "items[0].steps must be a list of strings, got str"),
        ({"items": [{"prompt": "q", "steps": ["a", None]}]}, "items[0].steps[1] must be a string, got null"),
        ({"items": [{"prompt": "q", "response": ["a"]}]}, "items[0].response must be a string, got list"),
        ({"items": [{"prompt": "q"}]}, "items[0]: give exactly one of 'steps' or 'response'"),
        ({"items": [{"prompt": "q", "steps": [], "response": ""}]}, "exactly one of"),
        ({"items": ["q"]}, "items[0] must be an object, got str"),
        ({"items": [{"prompt": "q", "steps": []}] * 5}, "too many items: 5 > max_items=4"),
        ({"items": [{"prompt": "q", "steps": ["a"] * 6}]}, "items[0] has 6 steps, more than max_steps=5"),
        ({"items": [{"prompt": "q", "response": "a\n\n" * 6}]}, "items[0] has 6 steps"),
    ],
)
def test_bad_requests_get_400_with_a_clear_message(server, body, message):
    status, answer = request(server, "POST", "/score", body)
    assert status == 400 and message in answer["error"]


def test_too_long_item_text():
    limits = ServerLimits(max_item_chars=10)
    with pytest.raises(RequestError, match=r"items\[1\] has 11 characters, more than max_item_chars=10") as err:
        parse_items({"items": [{"prompt": "q", "steps": ["a"]}, {"prompt": "q" * 6, "response": "r" * 5}]}, limits)
    assert err.value.status == 400


def test_scorer_refusal_is_422(prm):
    with serving(PRMScorer(prm, config=ScorerConfig(max_length=4))) as srv:
        status, body = request(srv, "POST", "/score", {"items": [{"prompt": PROMPT, "steps": STEPS[0]}]})
        assert status == 422 and "max_length=4" in body["error"]


def test_unknown_path_and_wrong_method(server):
    status, body = request(server, "GET", "/nope")
    assert status == 404 and "/nope" in body["error"]
    status, body = request(server, "POST", "/nope", {"items": []})
    assert status == 404
    status, body = request(server, "GET", "/score")
    assert status == 405 and "POST" in body["error"]
    status, body = request(server, "POST", "/health", {})
    assert status == 405
    status, body = request(server, "DELETE", "/score")
    assert status == 405
    status, body = request(server, "GET", "/health?verbose=1")
    assert status == 200  # a query string does not change the route


def test_cli_refuses_a_missing_model_before_loading(tmp_path, capsys):
    assert serve_main(["--model", str(tmp_path / "absent"), "--port", "0"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert serve_main(["--model", str(tmp_path), "--port", "0"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_cli_serves_a_saved_prm_on_a_free_port(prm_dir):
    cmd = [sys.executable, "-m", "openrlhf_pure.cli.serve_prm", "--model", prm_dir, "--port", "0", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " on http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() is not None else line
        host, port = line.rsplit("http://", 1)[1].strip().split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/health")
        response = conn.getresponse()
        health = response.read().decode()
        assert response.status == 200 and json.loads(health)["model"] == Path(prm_dir).name
        assert str(Path(prm_dir).parent) not in health  # no local path
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"prompt": "q", "steps": ["ok", "bad \ud800 step"]}, "items[0].steps[1]"),
        ({"prompt": "\udfff", "steps": ["a"]}, "items[0].prompt"),
        ({"prompt": "q", "response": "a\n\n\ud83d"}, "items[0].response"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_field(server, item, field):
    status, body = request(server, "POST", "/score", {"items": [item]})  # json.dumps writes it as \\ud800
    assert status == 400 and field in body["error"] and "lone surrogate" in body["error"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"FOO /score HTTP/1.0\r\n\r\n", 501),  # an unknown method
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.0\r\n\r\n", 414),  # a request line over 64 KiB
        (b"GET /health HTTP/1.0\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),  # a header line over 64 KiB
        (b"GET /health HTTP/1.0\r\n" + b"".join(b"X-%d: 1\r\n" % k for k in range(120)) + b"\r\n", 431),
        (b"GET /health HTTP/9.9\r\n\r\n", 505),
        (b"NONSENSE\r\n\r\n", 400),
    ],
)
def test_http_servers_own_refusals_answer_json(server, data, status):
    got, headers, body = raw_request(server, data)
    assert got == status and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]


def score_request(content_type: str | None, extra: bytes = b"", length: str | None = None) -> bytes:
    body = json.dumps({"items": [{"prompt": PROMPT, "steps": ["12 + 30 = 42."]}]}).encode()
    head = b"POST /score HTTP/1.0\r\nContent-Length: " + (length or str(len(body))).encode() + b"\r\n" + extra
    if content_type is not None:
        head += b"Content-Type: " + content_type.encode() + b"\r\n"
    return head + b"\r\n" + body


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (score_request(None), 415, "Content-Type must be application/json"),
        (score_request("application/x-www-form-urlencoded"), 415, "got 'application/x-www-form-urlencoded'"),
        (score_request("text/plain"), 415, "application/json"),
        (score_request("application/json", b"Content-Length: 61\r\n"), 400, "more than one Content-Length"),
        (score_request("application/json", b"Content-Length: 5\r\n"), 400, "more than one Content-Length"),
        (score_request("application/json", b"Transfer-Encoding: chunked\r\n"), 501, "Transfer-Encoding"),
        (score_request("Application/JSON; charset=utf-8"), 200, None),
    ],
)
def test_content_type_and_framing_are_checked(server, data, status, message):
    got, headers, body = raw_request(server, data)
    assert got == status and headers["content-type"] == "application/json"
    assert message is None or message in json.loads(body)["error"]


def test_tokens_are_capped_per_item_and_per_request(scorer):
    limits = ServerLimits(max_item_tokens=40, max_request_tokens=100)
    with serving(scorer, limits=limits) as srv:
        status, body = request(srv, "POST", "/score", {"items": [{"prompt": PROMPT, "steps": ["1 + 1 = 2."] * 20}]})
        assert status == 413 and "items[0] has" in body["error"] and "max_item_tokens=40" in body["error"]
        status, body = request(srv, "POST", "/score", score_body(8, steps=1))
        assert status == 413 and "max_request_tokens=100" in body["error"]
        status, body = request(srv, "POST", "/score", score_body(2, steps=1))
        assert status == 200 and len(body["scores"]) == 2


def test_a_200k_character_item_is_refused_at_once_by_the_token_cap(server):
    # on one global lock this valid item took ~100 s and held every other client
    limits = ServerLimits(max_body_bytes=2**20, max_item_chars=250_000)
    with serving(server.scorer, limits=limits) as srv:
        status, body = request(srv, "POST", "/score", {"items": [{"prompt": "q", "response": "1 + 1 = 2. " * 20_000}]})
        assert status == 413 and "max_item_tokens=8192" in body["error"]


def test_health_shows_a_name_not_a_local_path(scorer):
    with serving(scorer, model_name="/home/someone/runs/prm/stage2/final/") as srv:
        status, body = request(srv, "GET", "/health")
    assert status == 200 and body["model"] == "final" and body["queue"] == {"requests": 0}
    assert body["limits"]["max_item_tokens"] == 8192 and body["limits"]["max_queued_requests"] == 512
