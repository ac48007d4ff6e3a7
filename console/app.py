"""The console's web app (Starlette): three pages, their panels, and an outage banner per panel.

Each page is a shell whose panels htmx loads and refreshes every 5 s (``/panels/...``);
a panel that needs a service that does not answer shows a banner naming it, and the
other panels still show. Read-only: no route changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from console.dead_letters import DeadLetterDeps, dead_letter_routes
from console.git_candidate import GitCandidateError, local_branches, schema_at
from console.pipeline import PANELS
from console.pipeline_sources import PipelineSources
from console.settings import REPO
from console.sources import Sources, SubjectHistory
from console.views import (
    CqlView,
    DriftItem,
    candidate_alters,
    candidate_cql,
    cassandra_item,
    check_candidate,
    diff_view,
    kafka_item,
    registry_item,
    subject_view,
)
from contract.avro_types import SchemaError
from contract.catalog import Contract, ContractError
from schematool.migrate.observe import ServiceRefused, ServiceUnavailable

HERE = Path(__file__).resolve().parent
REFRESH = "every 5s"
MAX_UPLOAD_BYTES = 1_000_000
T = TypeVar("T")


@dataclass(frozen=True)
class Banner:
    """Why a panel has nothing to show: a service down or refusing, or a broken schemas/."""

    service: str
    message: str


# The failures a panel reports instead of its content; anything else is a bug and a 500.
PANEL_ERRORS = (ServiceUnavailable, ServiceRefused, ContractError)


def attempt(service: str, read: Callable[[], T]) -> T | Banner:
    try:
        return read()
    except ServiceUnavailable as exc:
        return Banner(exc.service, str(exc))
    except ServiceRefused as exc:
        return Banner(service, str(exc))
    except ContractError as exc:
        return Banner("schemas/", str(exc))


def create_app(sources: Sources, dead_letters: DeadLetterDeps | None = None,
               pipeline: PipelineSources | None = None, repo: Path = REPO) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["refresh"] = REFRESH
    templates.env.globals["has_dead_letters"] = dead_letters is not None
    templates.env.globals["has_pipeline"] = pipeline is not None
    templates.env.tests["banner"] = lambda value: isinstance(value, Banner)

    def page(request: Request, name: str, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context)

    def contracts() -> list[Contract] | Banner:
        return attempt("schemas/", sources.contracts)

    def subjects_panel() -> dict[str, Any]:
        found = contracts()
        names = [] if isinstance(found, Banner) else [c.subject for c in found]

        def read() -> list[Any]:
            return [subject_view(sources.subject(n), names) for n in sources.subject_names()]

        return {"subjects": attempt("registry", read)}

    def index(request: Request) -> Response:
        return RedirectResponse("/subjects", status_code=307)

    def subjects(request: Request) -> Response:
        return page(request, "subjects.html", active="subjects", **subjects_panel())

    def subjects_fragment(request: Request) -> Response:
        return page(request, "_subjects.html", **subjects_panel())

    def diff(request: Request) -> Response:
        subject = request.path_params["subject"]
        try:
            a, b = int(request.query_params["a"]), int(request.query_params["b"])
        except (KeyError, ValueError):
            return PlainTextResponse("diff needs two version numbers: ?a=1&b=2", 400)
        history = attempt("registry", lambda: sources.subject(subject))
        view: Any = history
        if isinstance(history, SubjectHistory):
            try:
                view = diff_view(history, a, b)
            except LookupError as exc:
                return PlainTextResponse(str(exc), 404)
        return page(request, "diff.html", active="subjects", subject=subject, a=a, b=b,
                    history=history, view=view)

    async def check(request: Request) -> Response:
        form: dict[str, Any] = {"subject": request.query_params.get("subject", ""), "text": ""}
        if request.method == "POST":
            async with request.form(max_part_size=MAX_UPLOAD_BYTES) as data:
                upload = data.get("file")
                text = str(data.get("schema") or "")
                if isinstance(upload, UploadFile) and upload.filename:
                    text = (await upload.read()).decode("utf-8", errors="replace")
                form = {"subject": str(data.get("subject") or "").strip(), "text": text,
                        "ref": str(data.get("ref") or "").strip()}
        results = None
        if request.method == "POST" and form["subject"] and form["ref"]:
            # A branch or commit of this checkout: its schemas/<subject>.avsc is the candidate.
            try:
                form["text"], form["commit"] = await _run_in_thread(
                    lambda: schema_at(repo, form["ref"], form["subject"]))
            except GitCandidateError as exc:
                results = {"git_problem": str(exc)}
        if request.method == "POST" and form["subject"] and form["text"].strip() \
                and results is None:
            results = await _run_in_thread(lambda: candidate_results(form["subject"],
                                                                     form["text"]))
        names = attempt("registry", sources.subject_names)
        return page(request, "check.html", active="check", form=form, results=results,
                    names=[] if isinstance(names, Banner) else names,
                    branches=local_branches(repo))

    def candidate_results(subject: str, text: str) -> dict[str, Any]:
        found = contracts()
        contract = None
        if not isinstance(found, Banner):
            contract = next((c for c in found if c.subject == subject), None)
        history = attempt("registry", lambda: sources.subject(subject))
        report = (
            check_candidate(text, history, contract)
            if isinstance(history, SubjectHistory) else history
        )
        cql: CqlView | Banner | str
        if contract is None:
            cql = f"no contract for {subject} in schemas/: no table is generated for it"
        else:
            try:
                candidate_cql(contract, text)
            except SchemaError as exc:
                cql = f"no CQL: {exc}"
            else:
                chosen = contract
                cql = attempt(
                    "cassandra",
                    lambda: candidate_alters(chosen, text, sources.cassandra(chosen)),
                )
        return {"report": report, "cql": cql, "contract": contract}

    def drift_panel() -> dict[str, Any]:
        found = contracts()
        if isinstance(found, Banner):
            return {"contracts": found}
        rows = [(contract, drift_items(contract)) for contract in found]
        return {"contracts": rows}

    def drift_items(contract: Contract) -> list[DriftItem | Banner]:
        def registry() -> DriftItem:
            return registry_item(contract, sources.registry_state(contract))

        def kafka() -> DriftItem:
            return kafka_item(contract, sources.topics((contract.topic, contract.rejects_topic)))

        def cassandra() -> DriftItem:
            return cassandra_item(contract, sources.cassandra(contract))

        return [attempt("registry", registry), attempt("kafka", kafka),
                attempt("cassandra", cassandra)]

    def drift(request: Request) -> Response:
        return page(request, "drift.html", active="drift", **drift_panel())

    def drift_fragment(request: Request) -> Response:
        return page(request, "_drift.html", **drift_panel())

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    def pipeline_panel(source: PipelineSources, name: str) -> Any:
        panel = PANELS[name]
        return attempt(panel.service, lambda: panel.read(source))

    def pipeline_page(request: Request) -> Response:
        assert pipeline is not None
        return page(request, "pipeline.html", active="pipeline",
                    **{name: pipeline_panel(pipeline, name) for name in PANELS})

    def pipeline_fragment(request: Request) -> Response:
        assert pipeline is not None
        name = request.path_params["panel"]
        if name not in PANELS:
            return PlainTextResponse(f"no pipeline panel {name!r}", 404)
        return page(request, f"_pipeline_{name}.html", **{name: pipeline_panel(pipeline, name)})

    pipeline_routes = [] if pipeline is None else [
        Route("/pipeline", pipeline_page),
        Route("/panels/pipeline/{panel}", pipeline_fragment),
    ]

    return Starlette(
        routes=[
            Route("/", index),
            Route("/subjects", subjects),
            Route("/panels/subjects", subjects_fragment),
            Route("/subjects/{subject:path}/diff", diff),
            Route("/check", check, methods=["GET", "POST"]),
            Route("/drift", drift),
            Route("/panels/drift", drift_fragment),
            Route("/healthz", healthz),
            *pipeline_routes,
            *(dead_letter_routes(dead_letters, page, attempt, _run_in_thread)
              if dead_letters is not None else []),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]
    )


async def _run_in_thread(work: Callable[[], T]) -> T:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(work)
