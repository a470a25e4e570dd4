"""A small HTTP server around one :class:`PRMScorer` (standard library only, no new dependencies).

Endpoints (JSON in and out; errors are ``{"error": "..."}`` with a 4xx or 5xx status):

- ``GET /health`` -> ``{"status": "ok", "model": str, "family": str, "step_format": str, "score": str,
  "score_transform": str, "scale": str, "limits": {...}}`` (scores are on ``scale`` after the transform)
- ``POST /score`` with ``{"items": [item, ...]}``, each item either
  ``{"prompt": str, "steps": [str, ...]}`` or ``{"prompt": str, "response": str}``
  -> ``{"scores": [[float, ...], ...]}``, one list per item, one score per step (``[]`` for an
  item with no steps). Extra keys in an item are ignored.

A ``response`` item is split into steps in text, on ``"\\n\\n"``, by
:func:`openrlhf_pure.engines.prm_evaluation.split_response` (blank pieces dropped, surrounding
newlines stripped), the same split the best-of-N evaluation uses, and then scored exactly like a
``steps`` item. :meth:`PRMScorer.score_responses` is not used: it splits in the *policy's* token
space, which needs the separator to end a vocabulary token and pads the result to (B, S); a
server has no policy, so splitting the text is exact and tokenizer-independent.

Limits (:class:`ServerLimits`): the body must declare a Content-Length (411 if missing, 400 if
not a non-negative integer, 413 above ``max_body_bytes``) and only that many bytes are read;
400 for bad JSON, wrong shapes or types (the message names the item index and field), more than
``max_items`` items, more than ``max_steps`` steps or ``max_item_chars`` characters in an item.
Unknown paths get 404, a known path with the wrong method 405. A scorer ``ValueError`` (say, an
input over the scorer's ``max_length``) is a 422. Requests are handled in threads, but scoring is
serialised with a lock: there is one model. The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from openrlhf_pure.engines.prm_evaluation import split_response
from openrlhf_pure.engines.prm_scorer import PRMScorer

logger = logging.getLogger(__name__)

RESPONSE_SEPARATOR = "\n\n"
ROUTES = {"/health": "GET", "/score": "POST"}


@dataclass(frozen=True)
class ServerLimits:
    """Request limits of :class:`PRMServer`.

    Args:
        max_body_bytes: largest accepted request body (declared Content-Length).
        max_items: most items in one ``/score`` request.
        max_steps: most steps in one item (after splitting a ``response``).
        max_item_chars: most characters in one item (prompt plus steps or response).
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_items: int = 1024
    max_steps: int = 512
    max_item_chars: int = 200_000

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


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
        prompt = item["prompt"]
        if not isinstance(prompt, str):
            raise RequestError(400, f"{where}.prompt must be a string, got {_type_name(prompt)}")
        has_steps, has_response = "steps" in item, "response" in item
        if has_steps == has_response:
            raise RequestError(400, f"{where}: give exactly one of 'steps' or 'response'")
        if has_steps:
            row = item["steps"]
            if not isinstance(row, list):
                raise RequestError(400, f"{where}.steps must be a list of strings, got {_type_name(row)}")
            for k, step in enumerate(row):
                if not isinstance(step, str):
                    raise RequestError(400, f"{where}.steps[{k}] must be a string, got {_type_name(step)}")
            chars = sum(len(s) for s in row)
        else:
            response = item["response"]
            if not isinstance(response, str):
                raise RequestError(400, f"{where}.response must be a string, got {_type_name(response)}")
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


class PRMServer(ThreadingHTTPServer):
    """A threading HTTP server that scores with one :class:`PRMScorer` (see the module docstring).

    Args:
        scorer: the scorer; its PRM is used by one request at a time.
        host: address to bind (127.0.0.1 by default: local clients only).
        port: port to bind; 0 picks a free one (see :attr:`address`).
        limits: request limits (:class:`ServerLimits`).
        model_name: the name ``/health`` reports; default: the PRM's ``name_or_path``.
    """

    daemon_threads = True

    def __init__(
        self,
        scorer: PRMScorer,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        model_name: str | None = None,
    ):
        self.scorer = scorer
        self.limits = limits or ServerLimits()
        self.model_name = model_name or str(getattr(scorer.prm.model.config, "_name_or_path", "") or "unknown")
        self.score_lock = threading.Lock()
        super().__init__((host, port), PRMRequestHandler)

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
        }

    def score(self, prompts: list[str], steps: list[list[str]]) -> list[list[float]]:
        """Score under the lock: (B,) prompts and step lists -> (B,) lists of floats ([] for no steps)."""
        with self.score_lock:
            results = self.scorer.score_steps(prompts, steps)
        return [[] if r is None else [float(x) for x in r.tolist()] for r in results]

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread; stop with ``shutdown()`` then ``server_close()``."""
        thread = threading.Thread(target=self.serve_forever, name="prm-server", daemon=True)
        thread.start()
        return thread


class PRMRequestHandler(BaseHTTPRequestHandler):
    """Routes, validates and answers one request of a :class:`PRMServer`."""

    server: PRMServer
    timeout = 60  # seconds a client may take to send its request
    server_version = "openrlhf-pure-prm"

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        """Log through :mod:`logging` instead of stderr."""
        logger.info("%s %s", self.address_string(), format % args)

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
        try:
            if path not in ROUTES:
                raise RequestError(404, f"unknown path {path!r}; known: {', '.join(ROUTES)}")
            if ROUTES[path] != method:
                self.close_connection = True  # an unread body must not be taken for the next request
                self._send_json(405, {"error": f"{path} takes {ROUTES[path]}, not {method}"}, {"Allow": ROUTES[path]})
                return
            if path == "/health":
                self._send_json(200, self.server.health())
                return
            prompts, steps = parse_items(self._read_json(), self.server.limits)
            try:
                scores = self.server.score(prompts, steps)
            except ValueError as err:
                raise RequestError(422, f"cannot score: {err}") from err
            self._send_json(200, {"scores": scores})
        except RequestError as err:
            self.close_connection = True
            self._send_json(err.status, {"error": err.message})
        except Exception as err:  # a bug or a model failure: answer, log, keep serving
            logger.exception("scoring failed")
            self.close_connection = True
            self._send_json(500, {"error": f"internal error: {type(err).__name__}: {err}"})

    def _read_json(self):
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise RequestError(411, "a Content-Length header is required")
        try:
            length = int(raw.strip())
        except ValueError:
            raise RequestError(400, f"invalid Content-Length {raw!r}") from None
        if length < 0:
            raise RequestError(400, f"invalid Content-Length {raw!r}")
        limit = self.server.limits.max_body_bytes
        if length > limit:
            raise RequestError(413, f"body of {length} bytes is over the limit of {limit} bytes")
        body = self.rfile.read(length)
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
