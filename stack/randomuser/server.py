"""A randomuser.me-compatible HTTP API (v1.4 JSON), served by the standard library.

Serves ``/api/`` and ``/api/1.4/`` with the real API's parameters (``results``,
``page``, ``seed``, ``nat``, ``gender``, ``inc``, ``exc``, ``noinfo``,
``format=json``) plus failure injection (see :mod:`stack.randomuser.failures`).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stack.randomuser.failures import DRIP_BYTES, FailurePlan, FailurePlanError, RequestCounter
from stack.randomuser.generator import (
    API_VERSION,
    MAX_RESULTS,
    generate_page,
    normalize_nats,
)

log = logging.getLogger(__name__)

API_PATHS = frozenset({"/api", "/api/", f"/api/{API_VERSION}", f"/api/{API_VERSION}/"})
# What the real API answers when something goes wrong on its side.
OUTAGE_MESSAGE = (
    "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. Thank you."
)


class BadRequest(ValueError):
    """A query parameter is invalid; answered as the API's error JSON with a 400."""


class RandomUserServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], plan: FailurePlan) -> None:
        super().__init__(address, RandomUserHandler)
        self.plan = plan
        self.requests = RequestCounter()
        self.stopping = threading.Event()  # interrupts injected delays at shutdown

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}/api/"


class RandomUserHandler(BaseHTTPRequestHandler):
    server: RandomUserServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client session reuses its connection
    timeout = 60  # idle keep-alive connections are closed after this

    def do_GET(self) -> None:  # name required by http.server
        url = urlsplit(self.path)
        if url.path not in API_PATHS:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no API at {url.path}"})
            return
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            plan = self.server.plan.overridden_by(query)
        except FailurePlanError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        client = self.headers.get("X-Client-Id") or query.get("client") or self.client_address[0]
        failing = plan.fails(self.server.requests.next(client))
        delay = plan.delay_seconds(failing)
        if delay and self.server.stopping.wait(delay):
            return
        if failing and self._inject(plan):
            return
        try:
            body = self._answer(query, plan.broken, plan.odd)
        except BadRequest as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        if failing and plan.fail == "drip":
            self._drip(_json_bytes(body), plan.drip_seconds())
        elif failing and plan.fail == "truncated":
            payload = _json_bytes(body)
            self._send_bytes(HTTPStatus.OK, payload[: len(payload) // 2],
                             {"Content-Length": str(len(payload))})
            self.close_connection = True  # hang up short of the promised length
        else:
            self._send_json(HTTPStatus.OK, body)

    def _drip(self, payload: bytes, pause_s: float) -> None:
        """The whole answer, a few bytes at a time: a client without a deadline for the
        whole answer waits as long as the server likes (each piece resets a read timeout)."""
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for start in range(0, len(payload), DRIP_BYTES):
                self.wfile.write(payload[start:start + DRIP_BYTES])
                self.wfile.flush()
                if self.server.stopping.wait(pause_s):
                    break
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client %s left during a dripped answer", self.client_address)
        self.close_connection = True

    def _inject(self, plan: FailurePlan) -> bool:
        """Answer with the planned failure; False when the failure is only a delay."""
        mode = plan.fail
        if mode in ("slow", "drip", "truncated"):
            return False  # the real answer, delayed, dripped or cut: see do_GET
        if mode == "reset":
            self.close_connection = True  # hang up without an answer
        elif mode == "malformed":
            self._send_bytes(HTTPStatus.OK, b'{"results": [{"gender": "male", "name": {"fi')
        elif mode == "error":
            self._send_json(HTTPStatus.OK, {"error": OUTAGE_MESSAGE})
        elif mode == "429":
            self._send_json(
                HTTPStatus.TOO_MANY_REQUESTS,
                {"error": "Too many requests"},
                {"Retry-After": str(plan.retry_after)},
            )
        else:
            self._send_json(HTTPStatus(int(str(mode))), {"error": OUTAGE_MESSAGE})
        return True

    def _answer(self, query: dict[str, str], broken: int, odd: int = 0) -> dict[str, Any]:
        fmt = query.get("format", "json")
        if fmt != "json":
            raise BadRequest(f"format {fmt!r} is not supported by this server; use json")
        results = _int_param(query, "results", 1)
        if not 1 <= results <= MAX_RESULTS:
            raise BadRequest(f"results must be between 1 and {MAX_RESULTS}, got {results}")
        page = _int_param(query, "page", 1)
        if page < 1:
            raise BadRequest(f"page must be at least 1, got {page}")
        seed = query.get("seed") or secrets.token_hex(8)
        gender = query.get("gender", "").lower() or None
        users = generate_page(
            seed, page, results, normalize_nats(query.get("nat")),
            gender=gender, broken=broken, odd=odd,
            inc=_list_param(query, "inc"), exc=_list_param(query, "exc"),
        )
        body: dict[str, Any] = {"results": users}
        if "noinfo" not in query:
            body["info"] = {"seed": seed, "results": results, "page": page, "version": API_VERSION}
        return body

    def _send_json(
        self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, _json_bytes(body), headers)

    def _send_bytes(
        self, status: HTTPStatus, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        headers = dict(headers or {})
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", headers.pop("Content-Length", str(len(payload))))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its read timeout fired during an injected delay).
            log.debug("client %s left before the answer", self.client_address)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # the base signature
        log.debug("%s " + format, self.client_address[0], *args)


def _json_bytes(body: dict[str, Any]) -> bytes:
    """UTF-8 JSON; a string UTF-8 cannot carry (a lone surrogate) is sent as the real API
    would, as a ``\\ud800`` escape."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None


def _list_param(query: dict[str, str], name: str) -> list[str]:
    return [item.strip().lower() for item in query.get(name, "").split(",") if item.strip()]


def make_server(host: str, port: int, plan: FailurePlan | None = None) -> RandomUserServer:
    return RandomUserServer((host, port), plan or FailurePlan())


@contextmanager
def serve_in_thread(
    port: int = 0, host: str = "127.0.0.1", plan: FailurePlan | None = None
) -> Iterator[str]:
    """Run the server in a background thread; yields its base URL (``http://host:port/api/``)."""
    with running_server(port, host, plan) as server:
        yield server.base_url


@contextmanager
def running_server(
    port: int = 0, host: str = "127.0.0.1", plan: FailurePlan | None = None
) -> Iterator[RandomUserServer]:
    """Like :func:`serve_in_thread` but yields the server (its ``requests`` counter, ``plan``)."""
    server = make_server(host, port, plan)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05},
        name=f"randomuser-{server.server_address[1]}", daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
