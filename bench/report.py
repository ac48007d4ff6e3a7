"""docs/performance.md from the stages' results: tables and text only, no I/O. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.results import Comparison, Figure, StageResult

STAGE_TITLES = {
    "produce": "Producer (`make bench-produce`)",
    "stream": "Streaming job (`make bench-stream`)",
    "cassandra": "Cassandra write limit",
    "durability": "Durability: the commit log's sync mode (`make bench-durability`)",
    "e2e": "End to end",
}


def format_value(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value / 1000:,.2f} s" if value >= 10_000 else f"{value:,.0f} ms"
    if unit in ("MiB", "bytes", "records", "records/s", "rows/s"):
        return f"{value:,.0f} {unit}"
    if unit == "cores":
        return f"{value:.2f} {unit}"
    return f"{value:,.3g} {unit}"


def format_ratio(comparison: Comparison) -> str:
    ratio = comparison.ratio
    if ratio is None:
        return "—"
    worst = comparison.worst_ratio
    pairs = len(comparison.pair_ratios)
    return f"{ratio:.2f}×" if worst is None else \
        f"{ratio:.2f}× (worst of {pairs} interleaved pairs {worst:.2f}×)"


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[met]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def comparison_table(rows: Sequence[Comparison]) -> list[str]:
    body = []
    for c in rows:
        limit = c.limit
        body.append([
            c.figure.label,
            format_value(c.figure.value, c.figure.unit),
            limit.label if limit else "—",
            format_value(limit.value, limit.unit) if limit else "—",
            format_ratio(c),
            c.goal.text if c.goal else "context only",
            verdict(c.met),
        ])
    return table(["Figure", "Value", "Limit", "Limit value", "Ratio", "Goal", "Met"], body)


def figure_table(figures: Sequence[Figure]) -> list[str]:
    return table(["Figure", "Value", "How"],
                 [[f.label, format_value(f.value, f.unit), f.detail] for f in figures])


def machine_table(machine: Mapping[str, str]) -> list[str]:
    return table(["What", "This run"], [[k, v] for k, v in machine.items()])


def tunings_table(rows: Sequence[Mapping[str, object]]) -> list[str]:
    if not rows:
        return []
    header = list(rows[0])
    return table(header, [[_cell(r.get(h)) for h in header] for r in rows])


def closing_lines(result: StageResult, shown_prefix: str) -> list[str]:
    """A section's end: the stage's notes not already shown (those starting with
    ``shown_prefix``) as a list, then the stage's time."""
    other = [f"- {n}" for n in result.notes if not n.startswith(shown_prefix)]
    notes = [*other, ""] if other else []
    return [*notes, f"Stage time: {result.seconds:,.0f} s.", ""]


def _cell(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.0f}"
    return "" if value is None else str(value)


def section_bounds(lines: Sequence[str], title: str) -> tuple[int, int] | None:
    """Where the section ``title`` (a "## " line) starts and ends in ``lines``, if there."""
    if title not in lines:
        return None
    start = list(lines).index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    return start, end


def splice(document: str, title: str, lines: Sequence[str]) -> str:
    """``document`` with its section ``title`` replaced by ``lines`` (else added before the
    "Reproduce" section, else at the end); every other line kept as it was. How the
    sections measured apart from ``make bench`` (bench-secure, bench-cluster) get in."""
    old = document.splitlines()
    new = list(lines)
    while new and not new[-1]:
        new.pop()
    bounds = section_bounds(old, title)
    if bounds is not None:
        start, end = bounds
    else:
        start = end = next((i for i, line in enumerate(old) if line == "## Reproduce"),
                           len(old))
    tail = old[end:]
    text = "\n".join([*old[:start], *new, *([""] if tail else []), *tail])
    return text + "\n" if document.endswith("\n") or not tail else text


def carry(previous: str, document: str, title: str) -> str:
    """``document`` (a fresh ``make bench`` rendering) with the section ``title`` that
    ``previous`` had, if any: ``make bench`` does not measure it, and must not drop it."""
    old = previous.splitlines()
    bounds = section_bounds(old, title)
    if bounds is None:
        return document
    return splice(document, title, old[bounds[0]:bounds[1]])


def render(
    *,
    generated_at: str,
    machine: Mapping[str, str],
    results: Mapping[str, StageResult],
    comparisons: Sequence[Comparison],
    sections: Mapping[str, Sequence[str]],
    plots: Mapping[str, str],
    commands: Sequence[str],
) -> str:
    """The whole document. ``sections``: per stage, paragraphs of explanation to add."""
    out = [
        "# Performance",
        "",
        f"Generated by `make bench` (`python -m bench all`) on {generated_at}; do not edit by "
        "hand, re-run it. Every figure below comes from that one run, stages one after the "
        "other on the same machine while the rest of the stack (Airflow, the `stream` "
        "service, other people's tests) kept running, so each figure sits beside a limit "
        "measured in the same conditions.",
        "",
        "## Machine",
        "",
        *machine_table(machine),
        "",
        "## Every figure beside its limit",
        "",
        *comparison_table(comparisons),
        "",
    ]
    if "stages" in plots:
        out += [f"![Each stage beside its limit]({plots['stages']})", ""]
    out += list(sections.get("summary", []))
    for stage, title in STAGE_TITLES.items():
        result = results.get(stage)
        if result is None:
            continue
        out += [f"## {title}", "", *sections.get(stage, []), "", *figure_table(result.figures), ""]
        if result.tunings:
            out += ["Tunings tried (records/s):", "", *tunings_table(result.tunings), ""]
        out += list(sections.get(f"{stage}:after", []))
        for note in result.notes:
            out.append(f"- {note}")
        if result.notes:
            out.append("")
        for name, path in plots.items():
            if name.startswith(f"{stage}-"):
                out += [f"![{name}]({path})", ""]
        out += [f"Stage time: {result.seconds:,.0f} s.", ""]
    out += ["## Reproduce", "", "```sh", *commands, "```", ""]
    return "\n".join(out)
