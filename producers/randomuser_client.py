"""HTTP client of the randomuser.me API, pinned to v1.4, with bounded, jittered retries.

Transient failures (429, 408, 5xx, the API's outage JSON, malformed or cut JSON,
timeouts, connection errors, an answer dripping in too slowly) are retried with
exponential backoff up to ``RetryPolicy.max_attempts``; then
:class:`RandomUserUnavailable` says how many attempts were made. Anything else
(a 4xx, a body of the wrong shape or version) is a :class:`RandomUserError` at once.

Every bound is in time as well as in attempts, so a page task always ends:

- one attempt gets ``attempt_timeout_s`` for the whole answer; a read timeout alone
  would wait forever on a server that sends a byte now and then;
- a 429's Retry-After is honoured: the next request waits that long, never less. A
  Retry-After beyond ``retry_after_max_s`` gives up at once (the caller's own retry,
  e.g. Airflow's, comes back later) instead of asking again too early;
- all attempts and pauses of one page share ``total_timeout_s``: a pause that would
  overrun it gives up instead.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from config.settings import Settings
from producers.errors import RandomUserError, RandomUserUnavailable

__all__ = [
    "API_FIELDS",
    "API_VERSION",
    "MAX_RESULTS",
    "Page",
    "RandomUserClient",
    "RandomUserError",
    "RandomUserUnavailable",
    "RetryPolicy",
    "base_url_for",
    "choose_source",
    "parse_page",
    "versioned_endpoint",
]

log = logging.getLogger(__name__)

API_VERSION = "1.4"
MAX_RESULTS = 5000
API_FIELDS = frozenset({
    "gender", "name", "location", "email", "login", "registered", "dob",
    "phone", "cell", "id", "picture", "nat",
})
_VERSION_SEGMENT = re.compile(r"\d+(\.\d+)*")
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0  # a longer Retry-After gives up (never asks earlier)
    attempt_timeout_s: float = 60.0  # the whole answer of one attempt, however it trickles
    total_timeout_s: float = 300.0  # all attempts and pauses of one page

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("attempt_timeout_s", "total_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Page:
    """One validated answer of the API."""

    users: tuple[dict[str, Any], ...]
    seed: str
    page: int
    results: int
    version: str


@dataclass(frozen=True)
class _Transient:
    problem: str
    status: int | None
    retry_after_s: float | None = None


def versioned_endpoint(base_url: str) -> str:
    """`https://randomuser.me/api/` -> `.../api/1.4/`; a base already pinned to 1.4 is kept."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if _VERSION_SEGMENT.fullmatch(last):
        if last != API_VERSION:
            raise RandomUserError(
                f"RANDOMUSER_URL pins API version {last}; this client speaks {API_VERSION}",
                url=base_url,
            )
    else:
        path = f"{path}/{API_VERSION}"
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def base_url_for(settings: Settings, source: str) -> str:
    """The base URL of a concrete source: ``live`` (randomuser.me) or ``local`` (bundled)."""
    if source == "live":
        return settings.randomuser_url
    if source == "local":
        return settings.randomuser_local_url
    raise ValueError(f"source must be live or local, got {source!r}")


def choose_source(settings: Settings, *, probe_timeout_s: float = 5.0) -> str:
    """RANDOMUSER_SOURCE resolved: for ``auto``, live when it answers one user, else local.

    Resolve once per run and pass the result on: a retry that switched source would
    fetch different users for the same seed.
    """
    if settings.randomuser_source in ("live", "local"):
        return settings.randomuser_source
    url = versioned_endpoint(settings.randomuser_url)
    try:
        response = requests.get(url, params={"results": "1", "format": "json"},
                                timeout=(min(3.05, probe_timeout_s), probe_timeout_s))
        if response.status_code == 200:
            parse_page(response.json(), results=1, page=1, url=url)
            return "live"
        reason = f"HTTP {response.status_code}"
    except (requests.RequestException, ValueError) as exc:  # ValueError: not JSON
        reason = type(exc).__name__
    except RandomUserError as exc:
        reason = str(exc)
    log.warning("live randomuser API unusable (%s); using the local one", reason)
    return "local"


def parse_page(body: Any, *, results: int, page: int, url: str) -> Page:
    """Check an API answer's shape; :class:`RandomUserError` names what is wrong."""
    if not isinstance(body, dict):
        raise RandomUserError(f"expected a JSON object, got {type(body).__name__}", url=url)
    users = body.get("results")
    info = body.get("info")
    if not isinstance(users, list) or not isinstance(info, dict):
        raise RandomUserError(
            f"expected 'results' (list) and 'info' (object), got keys {sorted(body)}", url=url
        )
    version = info.get("version")
    if version != API_VERSION:
        raise RandomUserError(f"API version {version!r}; pinned to {API_VERSION}", url=url)
    if len(users) != results:
        raise RandomUserError(f"asked for {results} users, got {len(users)}", url=url)
    if info.get("page") != page:
        raise RandomUserError(f"asked for page {page}, got page {info.get('page')!r}", url=url)
    not_objects = [i for i, u in enumerate(users) if not isinstance(u, dict)]
    if not_objects:
        raise RandomUserError(f"results[{not_objects[0]}] is not an object", url=url)
    return Page(tuple(users), str(info.get("seed", "")), page, results, version)


def _retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _error_message(response: requests.Response, content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return response.reason or "no reason given"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.reason or "no reason given"


def _join(values: str | Iterable[str] | None) -> str | None:
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    joined = ",".join(v.strip() for v in items if v.strip())
    return joined or None


class RandomUserClient:
    """A session on the API. Use as a context manager so the connections are closed."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 3.05,
        read_timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        extra_params: Mapping[str, str] | None = None,
    ):
        self.endpoint = versioned_endpoint(base_url)
        self.timeouts = (connect_timeout_s, read_timeout_s)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._extra_params = dict(extra_params or {})
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"Accept": "application/json",
                                      "User-Agent": "userstream-producer"})

    @classmethod
    def from_settings(
        cls, settings: Settings, source: str | None = None, **kwargs: Any
    ) -> RandomUserClient:
        """A client of the API that ``source`` names (default: :func:`choose_source`)."""
        return cls(base_url_for(settings, source or choose_source(settings)), **kwargs)

    def __enter__(self) -> RandomUserClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def fetch_page(
        self,
        *,
        results: int,
        page: int = 1,
        seed: str | None = None,
        nat: str | Iterable[str] | None = None,
        inc: str | Iterable[str] | None = None,
        exc: str | Iterable[str] | None = None,
    ) -> Page:
        """One page of ``results`` users; same ``seed``/``page``/``nat`` -> same users."""
        if not 1 <= results <= MAX_RESULTS:
            raise ValueError(f"results must be between 1 and {MAX_RESULTS}, got {results}")
        if page < 1:
            raise ValueError(f"page must be at least 1, got {page}")
        params: dict[str, str] = {"format": "json", "results": str(results), "page": str(page)}
        for name, value in (("seed", seed), ("nat", _join(nat)),
                            ("inc", _join(inc)), ("exc", _join(exc))):
            if value:
                params[name] = value
        for name in ("inc", "exc"):
            unknown = set(params.get(name, "").split(",")) - API_FIELDS - {""}
            if unknown:
                raise ValueError(f"{name}: unknown API fields {sorted(unknown)}")
        params.update(self._extra_params)
        return self._get_with_retries(params, results=results, page=page)

    def _get_with_retries(self, params: dict[str, str], *, results: int, page: int) -> Page:
        attempts, policy = self.retry.max_attempts, self.retry
        spent = 0.0  # attempts as measured, plus the pauses as asked for
        for attempt in range(1, attempts + 1):
            began = self._clock()
            outcome = self._attempt(params, results=results, page=page,
                                    deadline=began + policy.attempt_timeout_s)
            spent += self._clock() - began
            if isinstance(outcome, Page):
                return outcome
            if attempt == attempts:
                raise self._unavailable(outcome, attempt, "")
            if outcome.retry_after_s is not None:
                if outcome.retry_after_s > policy.retry_after_max_s:
                    raise self._unavailable(
                        outcome, attempt,
                        f"; it asks to retry after {outcome.retry_after_s:.0f} s, more than "
                        f"the {policy.retry_after_max_s:.0f} s this client waits",
                    )
                delay = outcome.retry_after_s
            else:
                delay = policy.backoff(attempt, self._rng)
            if spent + delay > policy.total_timeout_s:
                raise self._unavailable(
                    outcome, attempt,
                    f"; a retry in {delay:.1f} s would overrun the page's "
                    f"{policy.total_timeout_s:.0f} s budget ({spent:.1f} s spent)",
                )
            log.warning("randomuser attempt %d/%d failed (%s); retrying in %.2fs",
                        attempt, attempts, outcome.problem, delay)
            self._sleep(delay)
            spent += delay
        raise AssertionError("unreachable: the loop returns or raises")

    def _unavailable(self, outcome: _Transient, attempt: int, why: str) -> RandomUserUnavailable:
        return RandomUserUnavailable(outcome.problem + why, url=self.endpoint,
                                     status=outcome.status, attempts=attempt)

    def _attempt(
        self, params: dict[str, str], *, results: int, page: int, deadline: float
    ) -> Page | _Transient:
        read_timeout = max(0.001, min(self.timeouts[1], deadline - self._clock()))
        try:
            response = self._session.get(self.endpoint, params=params, stream=True,
                                         timeout=(self.timeouts[0], read_timeout))
        except requests.Timeout as exc:
            return _Transient(f"timed out: {type(exc).__name__}", None)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            return _Transient(f"connection failed: {type(exc).__name__}", None)
        with response:
            status = response.status_code
            content = self._read_body(response, deadline)
        if isinstance(content, _Transient):
            return _Transient(content.problem, status)
        if status == 429:
            return _Transient("HTTP 429 Too Many Requests", status,
                              _retry_after_seconds(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            return _Transient(f"HTTP {status}: {_error_message(response, content)}", status)
        if status != 200:
            raise RandomUserError(f"request refused: {_error_message(response, content)}",
                                  url=self.endpoint, status=status)
        try:
            body = json.loads(content)
        except ValueError:  # UnicodeDecodeError too
            return _Transient("malformed JSON in a 200 answer", status)
        if isinstance(body, dict) and "error" in body:
            # The API's outage answer: {"error": "Uh oh, something has gone wrong..."}
            return _Transient(f"the API reported an error: {body['error']}", status)
        return parse_page(body, results=results, page=page, url=self.endpoint)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes | _Transient:
        """The whole body by ``deadline``; each read returns what has arrived, so a body
        that trickles in is cut at the deadline, not after the server's last byte."""
        chunks: list[bytes] = []
        try:
            while True:
                if self._clock() > deadline:
                    return _Transient(
                        f"the answer was not complete within {self.retry.attempt_timeout_s:.0f}"
                        f" s ({sum(map(len, chunks))} bytes arrived)", None)
                chunk = response.raw.read1(_READ_CHUNK, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError:
            return _Transient("timed out: ReadTimeout", None)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # cut short, reset
            return _Transient(f"the answer broke off: {type(exc).__name__}", None)
