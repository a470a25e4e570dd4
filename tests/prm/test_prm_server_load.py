"""The PRM server under load: no resets at 200 clients, a bounded queue, fair batches, aborted requests dropped."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from prm_http import request, score_body, serving

from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.engines.prm_server import ServerLimits


@pytest.fixture(scope="module")
def scorer(prm):
    """A scorer on the tiny PRM."""
    return PRMScorer(prm)


def post_raw(server, body: dict) -> socket.socket:
    """Send a ``/score`` request on a raw socket and return the socket, unread (the caller closes it)."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(server.server_address[:2], timeout=60)
    head = f"POST /score HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    sock.sendall(head.encode() + data)
    return sock


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_200_concurrent_clients_are_all_answered(scorer):
    outcomes: list[object] = []
    barrier = threading.Barrier(200)

    def client(k: int) -> None:
        barrier.wait()
        try:
            status, body = request(server, "POST", "/score", score_body(1, steps=2))
            outcomes.append(status if len(body.get("scores", [])) == 1 else body)
        except OSError as err:  # a reset: the listen backlog overflowed
            outcomes.append(type(err).__name__)

    with serving(scorer) as server:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert outcomes == [200] * 200


def test_past_the_queue_bound_a_request_gets_a_503_and_aborted_requests_are_dropped(scorer):
    limits = ServerLimits(max_queued_requests=2)
    with serving(scorer, limits=limits, batch_tokens=64) as server:
        big = [post_raw(server, score_body(400)) for _ in range(2)]
        wait_until(lambda: server.queue.unfinished == 2)
        status, answer = request(server, "POST", "/score", {"items": []})
        assert status == 200  # an empty request never waits
        status, answer = request(server, "POST", "/score", score_body(1))
        assert status == 503 and "max_queued_requests=2" in answer["error"]
        for sock in big:
            sock.close()  # the clients go away: their items not yet scored are dropped
        wait_until(lambda: server.queue.unfinished == 0)
        assert server.queue.stats["requests_cancelled"] == 2
        assert server.queue.stats["items_scored"] < 800
        status, answer = request(server, "POST", "/score", score_body(1))
        assert status == 200 and len(answer["scores"]) == 1


def test_a_big_request_does_not_starve_a_small_one(scorer):
    with serving(scorer, batch_tokens=64) as server:
        finished = []

        def big_client() -> None:
            host, port = server.server_address[:2]
            conn = http.client.HTTPConnection(host, port, timeout=120)
            body = json.dumps(score_body(60)).encode()
            conn.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            finished.append(("big", response.status, len(json.loads(response.read())["scores"])))
            conn.close()

        thread = threading.Thread(target=big_client)
        thread.start()
        wait_until(lambda: server.queue.stats["batches"] >= 2)  # the big one is being scored
        status, body = request(server, "POST", "/score", score_body(1))
        finished.append(("small", status, len(body["scores"])))
        thread.join(timeout=120)
    assert finished == [("small", 200, 1), ("big", 200, 60)]


def test_a_failing_request_in_a_shared_batch_fails_alone(prm):
    from openrlhf_pure.engines.prm_scorer import ScorerConfig

    with serving(PRMScorer(prm, config=ScorerConfig(max_length=40))) as server:
        queue = server.queue
        good = (["What is 1 + 1?"] * 2, [["1 + 1 = 2."], ["So 2."]])
        with server.score_lock:  # the queue's thread blocks inside its first batch
            first = queue.submit(*good, server.token_counts(*good))
            wait_until(lambda: queue.stats["batches"] == 1)
            ok = queue.submit(*good, server.token_counts(*good))
            bad = (["What is 1 + 1?"], [["1 + 1 = 2. " * 20]])  # over the scorer's max_length
            failing = queue.submit(*bad, server.token_counts(*bad))
        for job in (first, ok, failing):
            assert job.done.wait(60)
        assert queue.stats["batches"] == 4  # the first, the shared one, then each job alone
        assert first.error is None and ok.error is None and len(ok.results[0]) == 1
        assert isinstance(failing.error, ValueError) and "max_length=40" in str(failing.error)
        status, body = request(server, "POST", "/score", {"items": [{"prompt": "q", "steps": bad[1][0]}]})
        assert status == 422 and "max_length=40" in body["error"]
