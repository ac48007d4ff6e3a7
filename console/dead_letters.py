"""The Dead letters page: browse by stage, error class and time, decode one, replay a set.

Reads go through a :class:`~console.dead_letter_store.DeadLetterStore`; the only write,
the replay, is :mod:`console.replay_action`'s command line, behind the admin token and a
confirmation (a first POST shows how many dead letters the filters select, a second with
``confirm=yes`` runs it). Cassandra down is a banner on the list, the registry down a
banner on the decoded value only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from config.contracts import deployed_contracts
from config.settings import PROJECT_ROOT, Secret, Settings
from console.dead_letter_decode import decode_value
from console.dead_letter_store import (
    DEFAULT_LIMIT,
    DeadLetter,
    DeadLetterFilter,
    DeadLetterKey,
    DeadLetterStore,
    FilterError,
    LiveDeadLetterStore,
)
from console.replay_action import (
    NO_TOKEN,
    ReplayRequest,
    ReplayResult,
    audit,
    replay_command,
    run_command,
    token_refusal,
)
from contract.catalog import Contract
from contract.cql import DeadLetterStage

# Error classes are snake-case names (contract.wire, streaming.decode, streaming.row_rules).
ERROR_CLASS = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Attempt(Protocol):
    def __call__(self, service: str, read: Callable[[], Any]) -> Any: ...


@dataclass(frozen=True)
class DeadLetterDeps:
    """What the page needs besides the templates: where to read, what to run, the token."""

    store: DeadLetterStore
    contracts: Callable[[], list[Contract]]
    contract_dir: Path  # replay is told this directory, so it sees the page's contracts
    admin_token: Secret
    run: Callable[[list[str]], ReplayResult]


def live_deps(settings: Settings) -> DeadLetterDeps:
    """The real Cassandra and registry, CONTRACTS_DIR's contracts (those the stream and
    replay run), the configured admin token, and replay as a child process."""
    directory = Path(settings.contracts_dir)
    directory = directory if directory.is_absolute() else PROJECT_ROOT / directory
    return DeadLetterDeps(LiveDeadLetterStore(settings),
                          lambda: deployed_contracts(settings, directory), directory,
                          settings.console_admin_token, run_command)


@dataclass(frozen=True)
class Selection:
    """The page's filters, as typed (``form``) and as parsed (``contract``, ``chosen``)."""

    form: Mapping[str, str]
    contract: Contract | None
    chosen: DeadLetterFilter | None
    problem: str = ""  # why the filters cannot run; nothing is read then

    def replay_request(self, contract_dir: Path) -> ReplayRequest | None:
        if self.contract is None or self.chosen is None:
            return None
        return ReplayRequest(self.contract.subject, contract_dir, self.chosen.stage,
                             self.chosen.error_class, self.chosen.since)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The replay command's own ``--since`` grammar (an ISO time, or an age like ``12h``)."""
    from argparse import ArgumentTypeError

    from streaming.__main__ import parse_since as replay_since  # no Spark: argparse only

    try:
        return replay_since(text, now)
    except ArgumentTypeError as exc:
        raise FilterError(str(exc).replace("--since ", "since ", 1)) from None


def select(params: Mapping[str, str], contracts: list[Contract]) -> Selection:
    """The filters of a query string or a form, checked; the first contract by default."""
    form = {k: str(params.get(k, "") or "").strip()
            for k in ("subject", "stage", "error_class", "since", "limit")}
    contract = next((c for c in contracts if c.subject == form["subject"]),
                    None if form["subject"] else (contracts[0] if contracts else None))
    if contract is None:
        why = f"no contract {form['subject']!r} in the contracts directory" if form["subject"] \
            else "no contract in the contracts directory"
        return Selection(form, None, None, why)
    form["subject"] = contract.subject
    try:
        if form["error_class"] and not ERROR_CLASS.match(form["error_class"]):
            raise FilterError(f"error class {form['error_class']!r}: expected a snake_case name")
        try:
            limit = int(form["limit"]) if form["limit"] else DEFAULT_LIMIT
        except ValueError:
            raise FilterError(f"limit {form['limit']!r}: expected a number") from None
        chosen = DeadLetterFilter(
            stage=form["stage"] or None, error_class=form["error_class"] or None,
            since=parse_since(form["since"]) if form["since"] else None, limit=limit,
        )
    except FilterError as exc:
        return Selection(form, contract, None, str(exc))
    return Selection(form, contract, chosen)


def dead_letter_routes(
    deps: DeadLetterDeps, page: Callable[..., Response], attempt: Attempt,
    run_in_thread: Callable[[Callable[[], Any]], Any],
) -> list[Route]:
    """The page's routes, rendered by the app's ``page`` and ``attempt`` (banners)."""

    def contracts() -> list[Contract] | Any:
        return attempt("schemas/", deps.contracts)

    def base(request: Request, params: Mapping[str, str]) -> dict[str, Any]:
        found = contracts()
        listed = found if isinstance(found, list) else []
        selection = select(params, listed)
        return {"selection": selection, "contracts": found, "stages": DeadLetterStage.ALL,
                "replay_disabled": NO_TOKEN if not deps.admin_token else ""}

    def listing(selection: Selection) -> Any:
        if selection.contract is None or selection.chosen is None:
            return []
        contract, chosen = selection.contract, selection.chosen
        return attempt("cassandra", lambda: deps.store.browse(contract, chosen))

    def index(request: Request) -> Response:
        context = base(request, request.query_params)
        return page(request, "dead_letters.html", active="dead-letters",
                    letters=listing(context["selection"]), query=request.url.query, **context)

    def fragment(request: Request) -> Response:
        context = base(request, request.query_params)
        return page(request, "_dead_letters.html", letters=listing(context["selection"]),
                    **context)

    def one(request: Request) -> Response:
        found = contracts()
        subject = request.path_params["subject"]
        contract = next((c for c in found if c.subject == subject), None) \
            if isinstance(found, list) else None
        if contract is None:
            return PlainTextResponse(f"no contract {subject} in the contracts directory", 404)
        p = request.path_params
        key = DeadLetterKey(p["partition"], p["offset"], p["timestamp_ms"])
        letter = attempt("cassandra", lambda: deps.store.one(contract, key))
        decoded: Any = None
        if letter is None:
            return PlainTextResponse(f"{contract.subject} has no dead letter {key.path}", 404)
        if isinstance(letter, DeadLetter):
            decoded = attempt("registry", lambda: decode_value(
                letter.value, dict(letter.headers), deps.store.writer_schema))
        return page(request, "dead_letters_one.html", active="dead-letters", contract=contract,
                    letter=letter, decoded=decoded)

    async def replay(request: Request) -> Response:
        async with request.form() as data:
            params = {k: str(v) for k, v in data.items() if isinstance(v, str)}
        context = base(request, params)
        selection: Selection = context["selection"]
        who = request.client.host if request.client else "unknown"
        wanted = selection.replay_request(deps.contract_dir)
        if wanted is None:
            return with_status(400, page(request, "dead_letters_replay.html",
                                         active="dead-letters", step="refused",
                                         reason=selection.problem, **context))
        if params.get("confirm") != "yes":
            assert selection.contract is not None and selection.chosen is not None
            contract, chosen = selection.contract, selection.chosen
            count = await run_in_thread(
                lambda: attempt("cassandra", lambda: deps.store.replayable(contract, chosen)))
            audit("asked", wanted, who, count=count if isinstance(count, int) else None)
            return page(request, "dead_letters_replay.html", active="dead-letters",
                        step="confirm", count=count, command=replay_command(wanted), **context)
        refusal = token_refusal(deps.admin_token, params.get("token", ""))
        if refusal is not None:
            audit("refused", wanted, who, reason=refusal)
            return with_status(403, page(request, "dead_letters_replay.html",
                                         active="dead-letters", step="refused", reason=refusal,
                                         **context))
        command = replay_command(wanted)
        audit("accepted", wanted, who)
        result: ReplayResult = await run_in_thread(lambda: deps.run(command))
        audit("done", wanted, who, exit_code=result.exit_code)
        return page(request, "dead_letters_replay.html", active="dead-letters", step="done",
                    result=result, **context)

    return [
        Route("/dead-letters", index),
        Route("/panels/dead-letters", fragment),
        Route("/dead-letters/replay", replay, methods=["POST"]),
        Route("/dead-letters/{subject}/{partition:int}/{offset:int}/{timestamp_ms:int}", one),
    ]


def with_status(status: int, response: Response) -> Response:
    response.status_code = status
    return response
