"""The PRM HTTP server: a real server on a free port, a real client, scores and every refusal."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

import pytest
import torch

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


def request(server, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict]:
    """One request on a fresh connection; the status and the decoded JSON answer."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        conn.close()


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


def test_missing_or_bad_content_length(server):
    host, port = server.server_address[:2]
    for value, expected in ((None, 411), ("abc", 400), ("-1", 400)):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.putrequest("POST", "/score")
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
    srv = PRMServer(PRMScorer(prm, config=ScorerConfig(max_length=4)))
    thread = srv.start_background()
    try:
        status, body = request(srv, "POST", "/score", {"items": [{"prompt": PROMPT, "steps": STEPS[0]}]})
        assert status == 422 and "max_length=4" in body["error"]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


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
        assert response.status == 200 and json.loads(response.read())["model"] == prm_dir
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
