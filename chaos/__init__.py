"""``make chaos``: faults injected into the real native stack, each run ending in the exact
reconciliation ``make demo`` uses (produced = stored + dead-lettered, nothing lost, no
duplicate keys, every stored row equal field by field).

Modules, in the order a scenario uses them: ``scenario`` (what a scenario is and what it
reports), ``faults`` (kill -9, SIGSTOP/SIGCONT, restart: only the stack's own processes,
by their pid files), ``load`` (a sandbox contract, load through the real producer, a
supervised streaming job of the scenario's own, reconciliation), ``scenarios`` (one
module per scenario, and their registry), ``report`` (docs/reliability.md).
"""
