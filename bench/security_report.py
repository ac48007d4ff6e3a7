"""The "Security" section of docs/performance.md, from ``make bench-secure``'s result. Pure.

The result (``<stack home>/bench/results/security.json``) keeps every timed rate of every
run in ``series``, keyed ``<profile>:<measure>``; this module turns them into the plain
vs secure table (best, worst, spread, ratio) and splices the section into the document,
leaving the rest of it as ``make bench`` wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bench import report
from bench.report import format_value, table
from bench.results import StageResult
from bench.stats import best

TITLE = "## Security: the cost of TLS and SASL (`make bench-secure`)"
PROFILES = ("plain", "secure")
TLS_NOTE = "tls: "  # notes starting so say what a hop negotiated
RUNS_KEY = "security.runs_per_profile"


@dataclass(frozen=True)
class Measure:
    key: str  # as in the other stages' results: "produce.contract_producer"
    label: str
    hop: str  # what the secure profile adds on the way
    unit: str = "records/s"


MEASURES = (
    Measure("produce.contract_producer",
            "ContractProducer: serialize + produce, acks=all, idempotent (librdkafka)",
            "Kafka: SASL_SSL, SCRAM-SHA-512"),
    Measure("produce.producer_performance",
            "Kafka ProducerPerformance, same record size and settings (Java client)",
            "Kafka: SASL_SSL, SCRAM-SHA-512"),
    Measure("stream.consumer_performance", "Kafka ConsumerPerformance, raw read (Java client)",
            "Kafka: SASL_SSL, SCRAM-SHA-512"),
    Measure("stream.read", "Spark Kafka batch read -> noop (the job's source)",
            "Kafka: SASL_SSL, SCRAM-SHA-512", "rows/s"),
    Measure("stream.write", "connector write of decoded rows -> Cassandra (the job's settings)",
            "Cassandra: TLS, password", "rows/s"),
)


def series_key(profile: str, measure: str) -> str:
    return f"{profile}:{measure}"


def spread(rates: Sequence[float]) -> float:
    """How far the worst run fell below the best, as a share of the best (0: all alike)."""
    top = best(rates)
    return 0.0 if top == 0 else (top - min(rates)) / top


@dataclass(frozen=True)
class Row:
    measure: Measure
    plain: Sequence[float]
    secure: Sequence[float]

    @property
    def ratio(self) -> float | None:
        """Secure over plain, best run against best run (noise only slows a run down)."""
        if not self.plain or not self.secure or best(self.plain) == 0:
            return None
        return best(self.secure) / best(self.plain)

    @property
    def verdict(self) -> str:
        """Whether the runs tell the profiles apart: only if their ranges do not overlap."""
        if not self.plain or not self.secure:
            return "—"
        if max(self.secure) < min(self.plain):
            return "secure slower in every timing"
        if min(self.secure) > max(self.plain):
            return "secure faster in every timing"
        return "ranges overlap: within the noise"

    @property
    def separated(self) -> bool:
        return self.verdict.endswith("every timing")


def rows_of(result: StageResult) -> list[Row]:
    found = []
    for measure in MEASURES:
        plain, secure = (result.series.get(series_key(p, measure.key), []) for p in PROFILES)
        if plain or secure:
            found.append(Row(measure, plain, secure))
    return found


def _side(rates: Sequence[float], unit: str) -> list[str]:
    if not rates:
        return ["—", "—", "—"]
    return [format_value(best(rates), unit), format_value(min(rates), unit),
            f"{spread(rates):.0%}"]


def comparison_lines(rows: Sequence[Row]) -> list[str]:
    body = []
    for row in rows:
        unit = row.measure.unit
        ratio = row.ratio
        body.append([row.measure.label, row.measure.hop, *_side(row.plain, unit),
                     *_side(row.secure, unit), "—" if ratio is None else f"{ratio:.2f}×",
                     row.verdict])
    return table(["Measure", "Secure hop", "Plain best", "Plain worst", "Plain spread",
                  "Secure best", "Secure worst", "Secure spread", "Secure / plain", "Runs"],
                 body)


def _largest_cost(rows: Sequence[Row]) -> Row | None:
    """The slowest secure measure among those its runs tell apart from plain."""
    measured = [r for r in rows if r.ratio is not None and r.separated and r.ratio < 1]
    return min(measured, key=lambda r: r.ratio or 0.0) if measured else None


def measured_at(result: StageResult) -> str:
    """When the run started, as the rest of the document writes times."""
    try:
        return datetime.fromisoformat(result.started_at).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return result.started_at


def section(result: StageResult, *, cores: int) -> list[str]:
    """The section's lines, from ``make bench-secure``'s result and the machine it ran on."""
    rows = rows_of(result)
    runs = result.figure(RUNS_KEY)
    out = [
        TITLE,
        "",
        f"Measured by `make bench-secure` (`python -m bench security`) on {measured_at(result)}, "
        "apart from the rest of this document. The same measurements ran on the plain stack "
        "(`.stack`: Kafka PLAINTEXT, the registry over HTTP, Cassandra without TLS or login) "
        "and on a secure stack started for the run and stopped after it (`STACK_PROFILE="
        "secure`, a temporary `STACK_HOME`, ports 4xxxx: Kafka SASL_SSL with SCRAM-SHA-512 "
        "and ACLs, the registry over HTTPS with basic auth, Cassandra with TLS and roles), "
        "interleaved: plain, secure, plain, secure"
        + (f" ({runs.value:.0f} run{'' if runs.value == 1 else 's'} each)" if runs else "")
        + ". Each run is a process of its own (`python -m bench.security measure`: fresh "
        "JVMs, the settings loaded from "
        "its environment as every command loads them), as the admin role, in sandbox "
        "contracts of its own. It produces the users with the producer stage's code and "
        "settings, then reads and writes them with the streaming stage's Spark source and "
        "connector. Every timed repetition of every run counts: best, worst, and the spread "
        "between them; the ratio is best against best (on a shared machine noise only slows "
        "a run down).",
        "",
        *comparison_lines(rows),
        "",
    ]
    tls = sorted({n.removeprefix(TLS_NOTE) for n in result.notes if n.startswith(TLS_NOTE)})
    if tls:
        out += ["What the secure hops negotiated:", "", *[f"- {line}" for line in tls], ""]
    why = (f"Where it costs, the reason is CPU: on this {cores}-core machine the encryption and "
           "decryption of every byte (AES-GCM, once in the client and once in the service) "
           "runs on the same cores as the broker, Cassandra and Spark, so its CPU competes "
           "with the stack's own work; SCRAM costs only when a connection opens, and the "
           "clients keep theirs.")
    largest = _largest_cost(rows)
    if largest is not None and largest.ratio is not None:
        why = (f"The largest cost is on \"{largest.measure.label}\": "
               f"{1 - largest.ratio:.0%} less throughput ({largest.ratio:.2f}×), slower in "
               "every timing. " + why)
    elif rows:
        why = ("No measure was slower in every secure timing than in every plain one: on "
               "this run the cost of the secure profile stayed within the spread between "
               "runs of the same profile (the notes give the machine's load). " + why)
    out += [why, ""]
    return out + report.closing_lines(result, TLS_NOTE)


def splice(document: str, lines: Sequence[str]) -> str:
    """``document`` with its security section replaced by ``lines`` (else added before the
    "Reproduce" section, else at the end); every other line kept as it was."""
    return report.splice(document, TITLE, lines)


def carry(previous: str, document: str) -> str:
    """``document`` (a fresh ``make bench`` rendering) with the security section that
    ``previous`` had, if any: ``make bench`` does not measure it, and must not drop it."""
    return report.carry(previous, document, TITLE)
