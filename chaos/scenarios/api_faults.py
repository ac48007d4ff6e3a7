"""api-faults: the randomuser source misbehaves on every page, and sends records that do
not fit.

A randomuser server of the scenario's own (stack/randomuser, loopback, a free port)
answers each page's first request(s) with one fault: 500s, a 429 with Retry-After, a
body cut short of its Content-Length, an answer dripped 64 bytes at a time, malformed
JSON. Every page also carries 3 broken records and 6 odd ones (a lone surrogate
``"\\ud800"`` in a name, credentials in odd places: a ``login`` list holding the password,
``Password`` capitalised, an ``api_token`` beside the user; wrong types; a missing field).

The run must never fail for one bad record: every page is produced, each bad record is a
reject carrying its reason and field path, no planted credential reaches the rejects
topic, and fetched = produced + rejected. The recovery time is the longest page took
from its first (faulty) request to being produced.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from chaos.load import pipeline
from chaos.scenario import ChaosContext, Outcome
from ops.reconcile import end_offsets, read_span
from producers.errors import ProducerError
from producers.randomuser_client import RandomUserClient, RetryPolicy
from producers.run import RunConfig, fetch_and_produce
from stack.randomuser import ODD_SECRET, running_server

BROKEN, ODD = 3, 6
FAULTS: tuple[dict[str, str], ...] = (
    {"fail": "500", "fail_first": "2"},
    {"fail": "429", "fail_first": "1", "retry_after": "2"},
    {"fail": "truncated", "fail_first": "1"},
    {"fail": "drip", "fail_first": "1", "delay_ms": "20"},
    {"fail": "malformed", "fail_first": "1"},
)
WAIT_S = 180.0


@dataclass(frozen=True)
class ApiFaults:
    name: str = "api-faults"
    fault: str = ("randomuser answers 500s, 429 + Retry-After, a cut body, a slow drip, "
                  "malformed JSON; 9 records a page that do not fit")
    fast: bool = False
    batch_size: int = 500

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        failed_pages: list[str] = []
        fetched = produced = rejected = 0
        longest = 0.0
        with pipeline(ctx, self.name) as pipe, running_server() as server:
            tag = pipe.contract.topic
            pipe.start_stream()
            began = time.time()
            for page, fault in enumerate(FAULTS, start=1):
                params = {**fault, "client": f"{tag}-{page}", "broken": str(BROKEN),
                          "odd": str(ODD)}
                run = RunConfig(seed=tag, pages=1, batch_size=self.batch_size,
                                run_id=f"{tag}-{page}", first_page=page, source="local")
                client = RandomUserClient(
                    server.base_url, extra_params=params,
                    retry=RetryPolicy(attempt_timeout_s=3.0, backoff_base_s=0.2,
                                      backoff_max_s=1.0, total_timeout_s=60.0))
                page_began = time.monotonic()
                try:
                    with client:
                        summary = fetch_and_produce(ctx.settings, pipe.contract, run,
                                                    client=client)
                except ProducerError as exc:  # the run failed: what this scenario forbids
                    failed_pages.append(f"page {page} ({fault['fail']}): "
                                        f"{type(exc).__name__}: {exc}"[:300])
                    continue
                longest = max(longest, time.monotonic() - page_began)
                fetched += summary.fetched
                produced += summary.produced
                rejected += summary.rejected
                notes.append(f"page {page} ({fault['fail']}): fetched {summary.fetched}, "
                             f"produced {summary.produced}, rejected {summary.rejected}")
            with pipe.load.lock:
                pipe.load.produced += produced
            notes += failed_pages
            rejects = _rejects(ctx, pipe.contract.rejects_topic, pipe.contract.partitions)
            leaked = [r for r in rejects if ODD_SECRET in r]
            reasons = [json.loads(r) for r in rejects if ODD_SECRET not in r]
            without_reason = [r for r in reasons
                              if not r.get("reason") or not r.get("field_path")]
            notes.append(f"server requests: {server.requests.total()}; rejects read back: "
                         f"{len(rejects)}")
            written = pipe.wait_writing(began, WAIT_S)
            rec = pipe.reconcile()
            pages = len(FAULTS)
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=round(longest, 1) if not failed_pages else None,
                checks={
                    "no page failed": not failed_pages,
                    "fetched = produced + rejected": fetched == produced + rejected,
                    f"{BROKEN + ODD} rejects a page": rejected == (BROKEN + ODD) * pages,
                    "every reject in the topic carries its reason and field path":
                        len(rejects) == rejected and not without_reason,
                    "no planted credential reached the rejects topic": not leaked,
                    "the stream wrote the good records": written is not None,
                },
                notes=notes, started=started)


def _rejects(ctx: ChaosContext, topic: str, partitions: int) -> list[str]:
    """Every value of the (sandbox's own) rejects topic, as text."""
    end = end_offsets(ctx.settings, topic, partitions)
    messages = read_span(ctx.settings, topic, {p: 0 for p in end}, end)
    return [(m.value or b"").decode("utf-8", errors="replace") for m in messages]
