"""A small HTTP server around one :class:`PRMScorer` (standard library only, no new dependencies).

Endpoints (JSON in and out; every error, 4xx or 5xx, is ``{"error": "..."}`` with
``Content-Type: application/json``, including those http.server raises itself: 400, 414, 431, 501):

- ``GET /health`` -> ``{"status": "ok", "model": str, "family": str, "step_format": str, "score": str,
  "score_transform": str, "scale": str, "limits": {...}, "queue": {"requests": int}}`` (scores are
  on ``scale`` after the transform); ``model`` is a name (the model folder's last component), never
  a local path;
- ``POST /score`` with ``{"items": [item, ...]}``, each item either
  ``{"prompt": str, "steps": [str, ...]}`` or ``{"prompt": str, "response": str}``
  -> ``{"scores": [[float, ...], ...]}``, one list per item, one score per step (``[]`` for an
  item with no steps). Extra keys in an item are ignored. The body must be sent with
  ``Content-Type: application/json`` (``curl -H 'Content-Type: application/json' -d ...``).

This is not OpenRLHF's remote reward-model protocol (``{"query": [...]}`` -> one reward per
sequence): a PRM scores every step, so items carry their steps and answers carry one list each.

A ``response`` item is split into steps in text, on ``"\\n\\n"``, by
:func:`openrlhf_pure.engines.prm_evaluation.split_response` (blank pieces dropped, surrounding
newlines stripped), the same split the best-of-N evaluation uses, and then scored exactly like a
``steps`` item. :meth:`PRMScorer.score_responses` is not used: it splits in the *policy's* token
space, which needs the separator to end a vocabulary token and pads the result to (B, S); a
server has no policy, so splitting the text is exact and tokenizer-independent.

Limits (:class:`ServerLimits`), each refusal naming the limit: a ``/score`` body must declare one
Content-Length (411 if missing, 400 if repeated or not a non-negative integer, 413 above
``max_body_bytes``; a ``Transfer-Encoding`` is 501) and only that many bytes are read; 415 for a
Content-Type other than ``application/json``; 400 for bad JSON, wrong shapes or types, text that
is not valid Unicode (a lone surrogate such as ``"\\ud800"``), more than ``max_items`` items,
more than ``max_steps`` steps or ``max_item_chars`` characters in an item (each message names the
item index and field); 413 for an item of more than ``max_item_tokens`` PRM tokens or a request
of more than ``max_request_tokens``; 503 (with ``Retry-After``) when ``max_queued_requests``
requests are already waiting. Unknown paths get 404, a known path with the wrong method 405. A
scorer ``ValueError`` (say, an input over the scorer's ``max_length``) is a 422.

A refused request's body is not left unread: the server sends its answer, ends its side of the
connection (``shutdown(SHUT_WR)``), then reads and discards what remains of the declared
Content-Length, at most ``max_discard_bytes`` within ``discard_timeout_s``, before closing. Closing
with unread bytes would make the kernel reset the connection, and a client still sending its body
(most clients send it all before reading) would see the reset instead of the 413. A body of
unknown length (no valid Content-Length) is not waited for.

Concurrency: each connection is handled in its own thread (the listen backlog is
``listen_backlog``, so a burst of clients is queued by the kernel, not reset); the model is used
by one thread only, the scoring queue's (:mod:`prm_score_queue`), which batches items across
requests round-robin, so one big request does not starve the others. A client that closes its
connection before its answer is taken to have gone away: its items not yet scored are dropped.
The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePath
from urllib.parse import urlsplit

from openrlhf_pure.engines.prm_evaluation import split_response
from openrlhf_pure.engines.prm_score_queue import QueueClosed, QueueFull, ScoringQueue
from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.models.step_formats import encode_steps

logger = logging.getLogger(__name__)

RESPONSE_SEPARATOR = "\n\n"
ROUTES = {"/health": "GET", "/score": "POST"}
CLIENT_POLL_S = 0.1  # how often a waiting handler checks that its client is still there


@dataclass(frozen=True)
class ServerLimits:
    """Request limits of :class:`PRMServer`.

    Args:
        max_body_bytes: largest accepted request body (declared Content-Length).
        max_items: most items in one ``/score`` request.
        max_steps: most steps in one item (after splitting a ``response``).
        max_item_chars: most characters in one item (prompt plus steps or response).
        max_item_tokens: most PRM input tokens in one item (prompt, steps and step tags).
        max_request_tokens: most PRM input tokens in one request, all items together.
        max_queued_requests: most ``/score`` requests waiting or being scored at once (503 past it).
        listen_backlog: connections the kernel queues before the server accepts them.
        max_discard_bytes: most bytes of a refused request's unread body read and thrown away before
            closing, so that a client still sending gets the answer rather than a reset.
        discard_timeout_s: most seconds spent discarding one refused request's body.
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_items: int = 1024
    max_steps: int = 512
    max_item_chars: int = 200_000
    max_item_tokens: int = 8192
    max_request_tokens: int = 262_144
    max_queued_requests: int = 512
    listen_backlog: int = 1024
    max_discard_bytes: int = 64 * 1024 * 1024
    discard_timeout_s: float = 10.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _check_text(value, where: str, what: str = "a string") -> str:
    """``value`` when it is a string of valid Unicode (no lone surrogate), else RequestError 400."""
    if not isinstance(value, str):
        raise RequestError(400, f"{where} must be {what}, got {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise RequestError(400, f"{where} is not valid Unicode: a lone surrogate at character {err.start}") from None
    return value


def parse_items(payload, limits: ServerLimits) -> tuple[list[str], list[list[str]]]:
    """Validate a decoded ``/score`` body and turn it into the scorer's inputs.

    Args:
        payload: the decoded JSON body.
        limits: the limits to enforce.
    Returns:
        (prompts, steps): (B,) prompt texts and (B,) lists of step texts.
    Raises:
        RequestError (400) naming the offending item index and field.
    """
    if not isinstance(payload, dict):
        raise RequestError(400, f"the body must be a JSON object, got {_type_name(payload)}")
    if "items" not in payload:
        raise RequestError(400, "missing field 'items'")
    items = payload["items"]
    if not isinstance(items, list):
        raise RequestError(400, f"field 'items' must be a list, got {_type_name(items)}")
    if len(items) > limits.max_items:
        raise RequestError(400, f"too many items: {len(items)} > max_items={limits.max_items}")
    prompts, steps = [], []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            raise RequestError(400, f"{where} must be an object, got {_type_name(item)}")
        if "prompt" not in item:
            raise RequestError(400, f"{where}: missing field 'prompt'")
        prompt = _check_text(item["prompt"], f"{where}.prompt")
        has_steps, has_response = "steps" in item, "response" in item
        if has_steps == has_response:
            raise RequestError(400, f"{where}: give exactly one of 'steps' or 'response'")
        if has_steps:
            row = item["steps"]
            if not isinstance(row, list):
                raise RequestError(400, f"{where}.steps must be a list of strings, got {_type_name(row)}")
            for k, step in enumerate(row):
                _check_text(step, f"{where}.steps[{k}]")
            chars = sum(len(s) for s in row)
        else:
            response = _check_text(item["response"], f"{where}.response")
            chars = len(response)
        if len(prompt) + chars > limits.max_item_chars:
            raise RequestError(
                400, f"{where} has {len(prompt) + chars} characters, more than max_item_chars={limits.max_item_chars}"
            )
        if not has_steps:
            row = split_response(response, RESPONSE_SEPARATOR)
        if len(row) > limits.max_steps:
            raise RequestError(400, f"{where} has {len(row)} steps, more than max_steps={limits.max_steps}")
        prompts.append(prompt)
        steps.append(list(row))
    return prompts, steps


def check_tokens(tokens: list[int], limits: ServerLimits) -> None:
    """Refuse (413) an item over ``max_item_tokens`` or a request over ``max_request_tokens``.

    Args:
        tokens: (B,) PRM input lengths of the request's items (0 for an item with no steps).
    """
    for i, n in enumerate(tokens):
        if n > limits.max_item_tokens:
            raise RequestError(413, f"items[{i}] has {n} tokens, more than max_item_tokens={limits.max_item_tokens}")
    if sum(tokens) > limits.max_request_tokens:
        raise RequestError(
            413, f"the request has {sum(tokens)} tokens, more than max_request_tokens={limits.max_request_tokens}"
        )


def declared_length(headers) -> int | None:
    """The body length a request's headers declare: one valid Content-Length and no Transfer-Encoding, else None."""
    values = headers.get_all("Content-Length") or []
    if "Transfer-Encoding" in headers or len(values) != 1:
        return None
    raw = values[0].strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None  # int() would take "+5", "1_0" or "٣"


def public_model_name(name: str) -> str:
    """The name ``/health`` shows: the last component of a path or hub id, never a local path."""
    return PurePath(name.rstrip("/\\")).name or "unknown"


class PRMServer(ThreadingHTTPServer):
    """A threading HTTP server that scores with one :class:`PRMScorer` (see the module docstring).

    Args:
        scorer: the scorer; its PRM is used by the scoring queue's thread only.
        host: address to bind (127.0.0.1 by default: local clients only).
        port: port to bind; 0 picks a free one (see :attr:`address`).
        limits: request limits (:class:`ServerLimits`).
        model_name: the name ``/health`` reports (only its last path component is shown);
            default: the PRM's ``name_or_path``.
        batch_tokens: token budget of one scoring batch; default: the scorer's ``max_tokens_per_batch``.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        scorer: PRMScorer,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        model_name: str | None = None,
        batch_tokens: int | None = None,
    ):
        self.scorer = scorer
        self.limits = limits or ServerLimits()
        self.request_queue_size = self.limits.listen_backlog  # read by server_activate's listen()
        name = model_name or str(getattr(scorer.prm.model.config, "_name_or_path", "") or "unknown")
        self.model_name = public_model_name(name)
        self.score_lock = threading.Lock()
        super().__init__((host, port), PRMRequestHandler)
        self.queue = ScoringQueue(
            self.score, batch_tokens or scorer.config.max_tokens_per_batch, self.limits.max_queued_requests
        )

    @property
    def address(self) -> str:
        """The bound address as ``http://host:port`` (the real port when 0 was asked for)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def health(self) -> dict:
        """The ``/health`` body."""
        prm = self.scorer.prm
        return {
            "status": "ok",
            "model": self.model_name,
            "family": prm.family,
            "step_format": prm.step_format.name,
            "score": prm.score_name,
            "score_transform": prm.transform.name,
            "scale": prm.scale,
            "limits": asdict(self.limits),
            "queue": {"requests": self.queue.unfinished},
        }

    def token_counts(self, prompts: list[str], steps: list[list[str]]) -> list[int]:
        """(B,) PRM input lengths of the items, as the scorer will encode them (0 for no steps)."""
        prm = self.scorer.prm
        return [0 if x is None else len(x) for x in encode_steps(prm.step_format, prm.tokenizer, prompts, steps)]

    def score(self, prompts: list[str], steps: list[list[str]]) -> list[list[float]]:
        """Score (B,) prompts and step lists -> (B,) lists of floats ([] for no steps); one model call at a time."""
        with self.score_lock:
            results = self.scorer.score_steps(prompts, steps)
        return [[] if r is None else [float(x) for x in r.tolist()] for r in results]

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread; stop with ``shutdown()`` then ``server_close()``."""
        thread = threading.Thread(target=self.serve_forever, name="prm-server", daemon=True)
        thread.start()
        return thread

    def server_close(self) -> None:
        """Close the socket and stop the scoring queue."""
        super().server_close()
        self.queue.close()

    def handle_error(self, request, client_address) -> None:
        """A client that went away is routine (debug log); anything else is logged with its traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            logger.debug("connection from %s ended early", client_address, exc_info=True)
        else:
            logger.exception("error while handling a request from %s", client_address)


class PRMRequestHandler(BaseHTTPRequestHandler):
    """Routes, validates and answers one request of a :class:`PRMServer`."""

    server: PRMServer
    timeout = 60  # seconds a client may take to send its request
    server_version = "openrlhf-pure-prm"
    default_request_version = "HTTP/1.0"  # answers to malformed request lines get a status line and headers

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        """Log through :mod:`logging` instead of stderr."""
        logger.info("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (400, 414, 431, 501, ...) as JSON, like every other error."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone already
            self._send_json(code, {"error": message or self.responses.get(code, ("error",))[0]})

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        self._unread = declared_length(self.headers) or 0  # body bytes not read yet
        try:
            if path not in ROUTES:
                raise RequestError(404, f"unknown path {path!r}; known: {', '.join(ROUTES)}")
            if ROUTES[path] != method:
                raise RequestError(405, f"{path} takes {ROUTES[path]}, not {method}", {"Allow": ROUTES[path]})
            if path == "/health":
                self._send_json(200, self.server.health())
                return
            scores = self._score(*parse_items(self._read_json(), self.server.limits))
            if scores is not None:
                self._send_json(200, {"scores": scores})
        except RequestError as err:
            self.close_connection = True  # an unread body must not be taken for the next request
            self._send_json(err.status, {"error": err.message}, err.headers)
            self._discard_unread_body()
        except Exception as err:  # a bug or a model failure: answer, log, keep serving
            logger.exception("scoring failed")
            self.close_connection = True
            self._send_json(500, {"error": f"internal error: {type(err).__name__}: {err}"})
            self._discard_unread_body()

    def _discard_unread_body(self) -> None:
        """After a refusal: end the answer, then read and drop the body's rest (bounded) so that closing
        does not reset a connection whose client is still sending (see the module docstring)."""
        limits = self.server.limits
        left, self._unread = min(self._unread, limits.max_discard_bytes), 0
        if left <= 0:
            return
        deadline, discarded = time.monotonic() + limits.discard_timeout_s, 0
        with contextlib.suppress(OSError):  # a timeout or a client gone: stop discarding
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)  # the answer, then an end of file, go out now
            while discarded < left and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(min(left - discarded, 65536))
                if not chunk:
                    break
                discarded += len(chunk)
        logger.debug("discarded %d bytes of a refused request's body from %s:%s", discarded, *self.client_address[:2])

    def _score(self, prompts: list[str], steps: list[list[str]]) -> list[list[float]] | None:
        """Queue the items and wait for their scores; None when the client went away meanwhile."""
        server = self.server
        try:
            tokens = server.token_counts(prompts, steps)
        except ValueError as err:
            raise RequestError(422, f"cannot score: {err}") from None
        check_tokens(tokens, server.limits)
        try:
            job = server.queue.submit(prompts, steps, tokens)
        except QueueFull as err:
            raise RequestError(503, f"server busy: {err}; retry later", {"Retry-After": "1"}) from None
        except QueueClosed as err:
            raise RequestError(503, str(err)) from None
        while not job.done.wait(CLIENT_POLL_S):
            if self._client_gone():
                server.queue.cancel(job)
                self.close_connection = True
                return None
        if isinstance(job.error, ValueError):
            raise RequestError(422, f"cannot score: {job.error}")
        if isinstance(job.error, QueueClosed):
            raise RequestError(503, str(job.error))
        if job.error is not None:
            raise job.error
        return job.results

    def _client_gone(self) -> bool:
        """Whether the client has closed its connection (an orderly close reads as end of file)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _read_json(self):
        if "Transfer-Encoding" in self.headers:
            raise RequestError(501, "Transfer-Encoding is not supported: send the body with a Content-Length")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            raise RequestError(411, "a Content-Length header is required")
        if len(values) > 1:
            raise RequestError(400, f"more than one Content-Length header: {values}")
        length = declared_length(self.headers)
        if length is None:
            raise RequestError(400, f"invalid Content-Length {values[0]!r}")
        limit = self.server.limits.max_body_bytes
        if length > limit:
            raise RequestError(413, f"body of {length} bytes is over the limit of {limit} bytes")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            shown = self.headers.get("Content-Type")
            raise RequestError(415, f"Content-Type must be application/json, got {shown!r}")
        body = self.rfile.read(length)
        self._unread = 0  # all of it, or the client ended early: nothing more will come
        if len(body) < length:
            raise RequestError(400, f"body ended after {len(body)} of {length} declared bytes")
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as err:
            raise RequestError(400, f"invalid JSON: {err}") from None

    def do_GET(self):  # noqa: N802 (http.server's naming)
        """Handle a GET."""
        self._route("GET")

    def do_POST(self):  # noqa: N802
        """Handle a POST."""
        self._route("POST")

    def do_PUT(self):  # noqa: N802
        """Handle a PUT (always refused)."""
        self._route("PUT")

    def do_DELETE(self):  # noqa: N802
        """Handle a DELETE (always refused)."""
        self._route("DELETE")

    def do_PATCH(self):  # noqa: N802
        """Handle a PATCH (always refused)."""
        self._route("PATCH")
