"""Writer and reader schemas for the decoder, behind one small interface.

* Writer schema: the schema a record was produced with, looked up by the id in its frame.
  Fetched once per id and cached for the life of the process. An id the registry does not
  know (HTTP 404) is cached as unknown: its rows are dead-lettered, the job goes on. Any
  other failure (registry down, 5xx, auth) raises :class:`RegistryUnavailable`, which fails
  the micro-batch so that Spark retries it from the checkpoint: good data is never
  dead-lettered because the registry blinked.
* Reader schema: the subject's latest registered version, the shape every row is decoded
  into. Re-read at most every ``ttl_seconds`` (between micro-batches), so a new version
  is picked up without a restart. A registry that does not answer that periodic re-read
  costs nothing: the cached reader still reads every writer it read before, so it is
  kept (event ``reader_refresh_failed``) and the re-read is tried again a few seconds
  later. A refresh the batch needs (:meth:`SchemaLookup.refresh_reader`: a writer has
  fields the cached reader lacks) and the first read still raise.

:class:`StaticSchemas` implements the same interface from a dict, for unit tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

# RegistryUnavailable (the registry could not answer) fails the batch, to be retried from
# the checkpoint: nothing is dead-lettered. Callers catch it from here or from config.
from config.registry import RegistryFailure, RegistryUnavailable, client_errors
from streaming.logs import log_event

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

HTTP_NOT_FOUND = 404
# After a periodic re-read of the reader failed, the next attempt waits this long.
REFRESH_RETRY_SECONDS = 5.0
T = TypeVar("T")


class ReaderSchemaMissing(RuntimeError):
    """The subject has no registered version: the job cannot decode anything."""


@dataclass(frozen=True)
class WriterSchema:
    schema_id: int
    schema_str: str
    # The version under the job's subject, when the registry says. Lineage only: a
    # registry that cannot tell (any 4xx) gives None, so no decision may rest on it alone.
    version: int | None


@dataclass(frozen=True)
class ReaderSchema:
    subject: str
    schema_id: int
    version: int
    schema_str: str

    @property
    def schema(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.schema_str)
        return parsed

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]


class SchemaLookup(Protocol):
    """What the decoder needs to know about schemas."""

    def reader(self) -> ReaderSchema:
        """The schema rows are decoded into (refreshed when stale)."""
        ...

    def writer(self, schema_id: int) -> WriterSchema | None:
        """The writer schema with this id, or None when the registry does not know it."""
        ...

    def refresh_reader(self) -> ReaderSchema:
        """Re-read the reader schema now (a batch holds a writer newer than it)."""
        ...


class StaticSchemas:
    """A fixed set of schemas (unit tests, tools): no registry involved."""

    def __init__(
        self,
        writers: Mapping[int, Mapping[str, Any] | str],
        reader: Mapping[str, Any] | str,
        *,
        subject: str = "static",
        reader_id: int = 0,
        reader_version: int = 1,
        writer_versions: Mapping[int, int] | None = None,
    ) -> None:
        self._writers = {i: _as_text(s) for i, s in writers.items()}
        self._versions = dict(writer_versions or {})
        self._reader = ReaderSchema(subject, reader_id, reader_version, _as_text(reader))

    def reader(self) -> ReaderSchema:
        return self._reader

    def refresh_reader(self) -> ReaderSchema:
        return self._reader

    def writer(self, schema_id: int) -> WriterSchema | None:
        text = self._writers.get(schema_id)
        if text is None:
            return None
        return WriterSchema(schema_id, text, self._versions.get(schema_id))


class RegistrySchemas:
    """Schemas from a Confluent-compatible registry (confluent-kafka's client)."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        subject: str,
        *,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._subject = subject
        self._ttl = ttl_seconds
        self._clock = clock
        self._writers: dict[int, WriterSchema | None] = {}
        self._reader: ReaderSchema | None = None
        self._reader_read_at = 0.0
        self._lock = threading.Lock()  # foreachBatch and listeners may share this object

    def reader(self) -> ReaderSchema:
        with self._lock:
            now = self._clock()
            if self._reader is None:
                self._reader = self._fetch_latest()  # nothing to fall back on: raises
                self._reader_read_at = now
            elif now - self._reader_read_at >= self._ttl:
                try:
                    self._reader = self._fetch_latest()
                except RegistryUnavailable as exc:
                    # The cached reader still reads every writer it read so far; a writer
                    # it cannot read forces refresh_reader(), which does raise.
                    log_event(
                        "reader_refresh_failed", subject=self._subject,
                        kept_version=self._reader.version,
                        kept_schema_id=self._reader.schema_id,
                        retry_in_s=REFRESH_RETRY_SECONDS, error=str(exc),
                    )
                    self._reader_read_at = now - self._ttl + REFRESH_RETRY_SECONDS
                else:
                    self._reader_read_at = now
            return self._reader

    def refresh_reader(self) -> ReaderSchema:
        with self._lock:
            self._reader = self._fetch_latest()
            self._reader_read_at = self._clock()
            return self._reader

    def writer(self, schema_id: int) -> WriterSchema | None:
        with self._lock:
            if schema_id not in self._writers:
                self._writers[schema_id] = self._fetch_writer(schema_id)
            return self._writers[schema_id]

    # -- registry calls --------------------------------------------------------------------

    def _fetch_latest(self) -> ReaderSchema:
        # The client caches "latest" without expiry unless configured; our TTL decides.
        self._client.clear_latest_caches()
        registered = _call(
            f"cannot read the latest version of {self._subject!r}",
            self._client.get_latest_version,
            self._subject,
        )
        if registered is None:
            raise ReaderSchemaMissing(
                f"subject {self._subject!r} has no registered version; run `make schemas`"
            )
        schema = registered.schema
        if schema is None or (schema.schema_type or "AVRO") != "AVRO":
            kind = "no schema" if schema is None else schema.schema_type
            raise ReaderSchemaMissing(
                f"subject {self._subject!r}: the latest version holds {kind}, not an Avro schema"
            )
        return ReaderSchema(
            subject=self._subject,
            schema_id=int(registered.schema_id),
            version=int(registered.version),
            schema_str=schema.schema_str,
        )

    def _fetch_writer(self, schema_id: int) -> WriterSchema | None:
        schema = _call(f"cannot fetch schema id {schema_id}", self._client.get_schema, schema_id)
        if schema is None or (schema.schema_type or "AVRO") != "AVRO":
            # Unknown, or not Avro: either way the decoder cannot read its rows.
            return None
        return WriterSchema(schema_id, schema.schema_str, self._version_of(schema_id))

    def _version_of(self, schema_id: int) -> int | None:
        """The id's version under our subject. Lineage only: any 4xx just means unknown
        (not every Confluent-compatible registry serves ``/schemas/ids/{id}/versions``)."""
        pairs = _call(
            f"cannot list the versions of schema id {schema_id}",
            self._client.get_schema_versions,
            schema_id,
            absent=range(400, 500),
        )
        versions = [p.version for p in pairs or [] if p.subject == self._subject]
        return max(versions) if versions else None


def _call(
    what: str,
    method: Callable[..., T],
    *args: Any,
    absent: Container[int] = (HTTP_NOT_FOUND,),
) -> T | None:
    """``method(*args)``; None when the registry answers with an ``absent`` status.

    Anything else the registry or the network does raises :class:`RegistryUnavailable`.
    """
    try:
        return method(*args)
    except client_errors() as exc:
        if RegistryFailure.of(exc).status in absent:
            return None
        raise RegistryUnavailable(f"schema registry: {what}: {exc}") from exc


def _as_text(schema: Mapping[str, Any] | str) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema)
