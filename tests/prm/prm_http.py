"""Client helpers for the PRM server tests: a real server on a free port, real sockets."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket

from openrlhf_pure.engines.prm_server import PRMServer

JSON = {"Content-Type": "application/json"}


@contextlib.contextmanager
def serving(scorer, **kwargs):
    """A :class:`PRMServer` on 127.0.0.1 and a free port, serving from a thread; closed afterwards."""
    server = PRMServer(scorer, port=0, **kwargs)
    thread = server.start_background()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def request(server, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict]:
    """One request on a fresh connection (JSON Content-Type unless ``headers`` say otherwise); status, JSON answer."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=JSON if headers is None else headers)
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def raw_request(server, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; the status, headers (lower-case names) and body."""
    with socket.create_connection(server.server_address[:2], timeout=60) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def score_body(count: int, steps: int = 3) -> dict:
    """A ``/score`` body of ``count`` arithmetic items of ``steps`` steps each."""
    items = [{"prompt": f"What is {k} + {k}?", "steps": [f"{k} + {k} = {2 * k}."] * steps} for k in range(count)]
    return {"items": items}
