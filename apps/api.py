"""The JSON API under ``/api/v1``, for scripts and tools: typed FastAPI routes over the same
services the page calls.

Sign in first (``POST /login`` with form fields ``username`` and ``password``; the session
cookie comes back). Answers are positional: ``left`` is the answer labelled "A", ``right``
the one labelled "B"; votes use the same words (``left`` | ``right`` | ``tie`` |
``both_bad``). Assignments are named by opaque ids; nothing a reviewer gets names a model.
Errors are JSON ``{"detail": "..."}`` with a 4xx status: 401 not signed in, 403 not allowed,
404 not found (another reviewer's assignment is "not found" too), 409 a conflict with what is
stored (already voted, lease expired), 400 anything else the request got wrong (422 when its
shape is wrong). The seconds stored with a vote are the server's; the API takes none.

Example::

    curl -c jar -d username=ana -d password=s3cret http://127.0.0.1:7860/login
    curl -b jar http://127.0.0.1:7860/api/v1/studies
    curl -b jar http://127.0.0.1:7860/api/v1/studies/sft-v1/next
    curl -b jar -H 'Content-Type: application/json' -d '{"choice": "left", "strength": 2}' \\
         http://127.0.0.1:7860/api/v1/assignments/<assignment_id>/vote

OpenAPI: ``/api/v1/openapi.json`` and a readable page at ``/api/v1/docs``, for analysts and
admins.
"""

import html
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, StrictInt, StrictStr

from apps.context import AppContext
from apps.security import ACCOUNT_KEY
from review.campaign.judgments import MAX_RATIONALE_LENGTH, AlreadyVoted
from review.campaign.leases import LeaseExpired
from review.core.errors import NotFound, PermissionDenied, ReviewError
from review.interchange.exports import FORMATS as EXPORT_FORMATS
from review.reporting.pool import StillComputing
from review.reporting.runner import DEFAULT_BOOTSTRAP, MAX_BOOTSTRAP, MIN_BOOTSTRAP

PREFIX = "/api/v1"
EXPORT_CHUNK = 1 << 16
# A refusal's HTTP status, by the domain error's kind (the most specific class first).
ERROR_STATUS: tuple[tuple[type[ReviewError], int], ...] = (
    (PermissionDenied, 403), (NotFound, 404), (AlreadyVoted, 409), (LeaseExpired, 409),
    (StillComputing, 429), (ReviewError, 400),
)
EXPORT_MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
                "parquet": "application/vnd.apache.parquet", "mtbench": "application/x-ndjson",
                "dpo": "application/x-ndjson"}


class Message(BaseModel):
    role: str
    content: str


class Progress(BaseModel):
    """The caller's progress on a study: votes cast, items still open to them, items skipped."""

    done: int
    remaining: int = Field(description="items still open to you (counted up to a cap, see capped)")
    skipped: int
    capped: bool = Field(False, description="true when at least `remaining` items are left (the "
                                            "count stops there)")


class Item(BaseModel):
    """The caller's screen on a study: the item (``assignment_id`` null when there is none)."""

    assignment_id: str | None = Field(description="opaque id of the assignment; null when done")
    mode: str = Field(description="'vote' for a new vote, 'change' when changing one")
    status: str | None = None
    prompt: str | None = Field(None, description="the last user turn (the whole chat is in messages)")
    messages: list[Message] = []
    reference: str | None = None
    left: str | None = Field(None, description="the answer shown as A")
    right: str | None = Field(None, description="the answer shown as B")
    progress: Progress
    paused: bool = False
    notice: str | None = Field(None, description="why there is no item although work remains "
                                                 "(the study is paused, or held back)")


class VoteIn(BaseModel):
    """A vote; the rules (which choices, which strengths with which choice) are the domain's,
    which answers 400 with the reason. Strict types: ``true`` is no strength, ``"2"`` no number."""

    choice: StrictStr = Field(description="left (A) | right (B) | tie | both_bad")
    strength: StrictInt | None = Field(None, description="1 slightly, 2 clearly, 3 much better: A or B only")
    rationale: StrictStr | None = Field(None, max_length=MAX_RATIONALE_LENGTH)


class JudgmentOut(BaseModel):
    assignment_id: str
    choice: str
    strength: int | None
    rationale: str | None
    seconds: float | None = Field(description="the server's: from handing the item out to the vote")
    created_at: datetime


class VoteOut(BaseModel):
    judgment: JudgmentOut
    next: Item


class SkipOut(BaseModel):
    assignment_id: str
    skipped: bool
    next: Item


class RevisitOut(BaseModel):
    revisited: int
    next: Item


class StudyOut(BaseModel):
    name: str = Field(description="the study's name as the caller knows it (its label for reviewers)")
    status: str
    reviewing: bool = Field(description="whether the caller reviews items of it")


class CollectionProgress(BaseModel):
    """Collection progress of a study (analysts and admins): counts only."""

    items: int
    gold_items: int
    judgments: int
    needed: int
    reviewers: int
    overlap: int
    share_done: float | None


class StudyProgressOut(BaseModel):
    study: str
    status: str
    you: Progress | None = Field(None, description="the caller's own progress, when on the study")
    collection: CollectionProgress | None = Field(None, description="analysts and admins")


def _item(screen: Any) -> Item:
    progress = Progress(done=screen.progress.done, remaining=screen.progress.remaining,
                        skipped=screen.progress.skipped, capped=screen.progress.capped)
    view = screen.item
    if view is None:
        return Item(assignment_id=None, mode=screen.mode, progress=progress, paused=screen.paused,
                    notice=screen.notice)
    users = [m["content"] for m in view.messages if m["role"] == "user"]
    return Item(assignment_id=view.assignment_id, mode=screen.mode, status=view.status,
                prompt=users[-1] if users else None,
                messages=[Message(**m) for m in view.messages], reference=view.reference,
                left=view.left, right=view.right, progress=progress, paused=screen.paused)


def _judgment(judgment: Any) -> JudgmentOut:
    return JudgmentOut(assignment_id=judgment.assignment_id, choice=judgment.choice,
                       strength=judgment.strength, rationale=judgment.rationale,
                       seconds=judgment.seconds, created_at=judgment.created_at)


def signed_in(request: Request) -> str:
    """The signed-in account's name (the security middleware looked the session up)."""
    name = request.scope.get(ACCOUNT_KEY)
    if name is None:
        raise HTTPException(status_code=401, detail="please log in")
    return name


Account = Annotated[str, Depends(signed_in)]
# Checked by review.reporting.runner.bootstrap_rounds (400 with the range), not here.
Rounds = Annotated[int, Query(description=f"bootstrap rounds, {MIN_BOOTSTRAP} to {MAX_BOOTSTRAP}")]


def api_router(ctx: AppContext) -> APIRouter:
    """The routes of ``/api/v1``."""
    from review.core.db import retry_on_disconnect

    router = APIRouter(prefix=PREFIX)
    lease_minutes = ctx.settings.lease_minutes

    def on_database(fn: Any) -> Any:
        """The handler run again while the database restarts (every action here is safe to
        repeat: a vote sent twice is stored once, a lease asked twice is the same lease)."""
        return retry_on_disconnect(fn)

    @router.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Whether the server answers (no login needed; for load balancers)."""
        return {"status": "ok"}

    @router.get("/studies", tags=["review"])
    @on_database
    def studies(name: Account) -> list[StudyOut]:
        """Your studies: those you review, and for analysts and admins every study."""
        from review.auth.permissions import may
        from review.campaign.membership import reviewer_studies
        from review.campaign.progress import study_progress

        with ctx.account(name) as (session, reviewer):
            rows = [StudyOut(name=c.label, status=c.status, reviewing=True)
                    for c in reviewer_studies(session=session, reviewer=reviewer)]
            if may(reviewer.role, "view_results"):
                known = {row.name for row in rows}
                rows += [StudyOut(name=p.study, status=p.status, reviewing=False)
                         for p in study_progress(session=session) if p.study not in known]
        return rows

    @router.get("/studies/{study}/next", tags=["review"])
    @on_database
    def next_item(study: str, name: Account) -> Item:
        """Your current item in the study, leasing the next one when you hold none."""
        from review.campaign.screen import next_screen

        with ctx.account(name, write=True) as (session, reviewer):
            return _item(next_screen(session=session, reviewer=reviewer, study_label=study,
                                     lease_minutes=lease_minutes))

    @router.get("/assignments/{assignment_id}", tags=["review"])
    @on_database
    def assignment(assignment_id: str, name: Account) -> Item:
        """One of your assignments again (prompt and answers)."""
        from review.campaign.screen import assignment_screen

        with ctx.account(name) as (session, reviewer):
            return _item(assignment_screen(session=session, reviewer=reviewer,
                                           assignment_id=assignment_id))

    @router.post("/assignments/{assignment_id}/vote", tags=["review"])
    @on_database
    def vote(assignment_id: str, body: VoteIn, name: Account) -> VoteOut:
        """Vote on your assignment, and get your next item in the same study. The same vote sent
        again returns the stored one; a different one is refused (409): use ``change``."""
        from review.campaign.screen import submit_vote

        with ctx.account(name, write=True) as (session, reviewer):
            outcome = submit_vote(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                  choice=body.choice, strength=body.strength,
                                  rationale=body.rationale, lease_minutes=lease_minutes)
            return VoteOut(judgment=_judgment(outcome.judgment), next=_item(outcome.screen))

    @router.post("/assignments/{assignment_id}/change", tags=["review"])
    @on_database
    def change(assignment_id: str, body: VoteIn, name: Account) -> VoteOut:
        """Change your vote on an assignment within the change window after casting it."""
        from review.campaign.screen import submit_vote

        with ctx.account(name, write=True) as (session, reviewer):
            outcome = submit_vote(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                  choice=body.choice, strength=body.strength,
                                  rationale=body.rationale, mode="change",
                                  lease_minutes=lease_minutes)
            return VoteOut(judgment=_judgment(outcome.judgment), next=_item(outcome.screen))

    @router.post("/assignments/{assignment_id}/skip", tags=["review"])
    @on_database
    def skip(assignment_id: str, name: Account) -> SkipOut:
        """Give an item back without voting; it is counted as skipped and comes back to you only
        when you ask for your skipped items."""
        from review.campaign.screen import skip_item

        with ctx.account(name, write=True) as (session, reviewer):
            outcome = skip_item(session=session, reviewer=reviewer, assignment_id=assignment_id,
                                lease_minutes=lease_minutes)
            return SkipOut(assignment_id=assignment_id, skipped=True, next=_item(outcome.screen))

    @router.post("/studies/{study}/revisit-skipped", tags=["review"])
    @on_database
    def revisit(study: str, name: Account) -> RevisitOut:
        """Put your skipped items of the study back in your queue."""
        from review.campaign.screen import revisit_skipped_items

        with ctx.account(name, write=True) as (session, reviewer):
            count, screen = revisit_skipped_items(session=session, reviewer=reviewer,
                                                  study_label=study, lease_minutes=lease_minutes)
            return RevisitOut(revisited=count, next=_item(screen))

    @router.get("/studies/{study}/progress", tags=["review"])
    @on_database
    def progress(study: str, name: Account) -> StudyProgressOut:
        """Your progress on the study; for analysts and admins also the study's collection."""
        from review.campaign.progress import progress_of

        with ctx.account(name) as (session, reviewer):
            found = progress_of(session=session, reviewer=reviewer, study_label=study)
        you = found.you
        collection = found.collection
        return StudyProgressOut(
            study=study, status=found.status,
            you=Progress(done=you.done, remaining=you.remaining, skipped=you.skipped,
                         capped=you.capped) if you else None,
            collection=CollectionProgress(
                items=collection.items, gold_items=collection.gold_items,
                judgments=collection.judgments, needed=collection.needed,
                reviewers=collection.reviewers, overlap=collection.overlap,
                share_done=collection.share_done) if collection else None)

    @router.get("/studies/{study}/analysis", tags=["results"])
    async def analysis(study: str, name: Account, bootstrap: Rounds = DEFAULT_BOOTSTRAP) -> JSONResponse:
        """The ``review analyze --json`` document of the study (analysts and admins), computed by
        the server's analysis workers and cached until the study's data changes; 429 while your
        previous analysis is still computing."""
        return JSONResponse(await _analysis(name, "analysis", study, bootstrap))

    @router.get("/studies/{study}/export", tags=["results"])
    def export(study: str, name: Account,
               format: Annotated[str, Query(description=" | ".join(EXPORT_FORMATS))] = "jsonl",
               ) -> StreamingResponse:
        """The study's judgments (analysts and admins), streamed; nothing is left on the server."""
        from review.core.lookup import get_study
        from review.interchange.exports import check_format, export_file_name, write_export

        out = tempfile.TemporaryFile()  # no name on disk: nothing is left behind
        try:
            with ctx.account(name, action="view_results") as (session, _):
                check_format(format)
                target = get_study(session=session, name=study)
                write_export(session=session, study=target, fmt=format, out=out)
                file_name = export_file_name(target.name, format)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return StreamingResponse(_chunks(out), media_type=EXPORT_MEDIA.get(format),
                                 headers=_attachment(file_name))

    @router.get("/studies/{study}/report", tags=["results"])
    async def report(study: str, name: Account, bootstrap: Rounds = DEFAULT_BOOTSTRAP) -> Response:
        """The study's self-contained HTML report (analysts and admins), as a download."""
        from review.reporting.report import report_file_name

        page = await _analysis(name, "report_html", study, bootstrap)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers=_attachment(report_file_name(study)))

    async def _analysis(name: str, kind: str, study: str, bootstrap: Any) -> Any:
        """An analysis from the pool: its key read in a worker thread, then awaited without
        holding a thread or a database connection."""
        import asyncio

        import anyio

        key = await anyio.to_thread.run_sync(on_database(
            lambda: ctx.analysis_key(name, kind=kind, study=study, n_bootstrap=bootstrap)))
        return await asyncio.wrap_future(ctx.analyses.submit(account=name, key=key))

    return router


def _chunks(out: Any) -> Iterator[bytes]:
    try:
        while chunk := out.read(EXPORT_CHUNK):
            yield chunk
    finally:
        out.close()


def _attachment(file_name: str) -> dict[str, str]:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in file_name)
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


def add_api(app: FastAPI, ctx: AppContext) -> None:
    """The API's routes, its error answers and its documentation (analysts and admins) on ``app``."""
    from fastapi.openapi.utils import get_openapi

    router = api_router(ctx)
    app.include_router(router)

    @app.exception_handler(ReviewError)
    async def refusal(_: Request, exc: ReviewError) -> JSONResponse:
        status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
        headers = {"Retry-After": "2"} if status == 429 else None
        return JSONResponse(status_code=status, content={"detail": str(exc)}, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        """A request of the wrong shape: one line per field, without echoing the input (a NaN
        sent back would not even be JSON)."""
        lines = [f"{'.'.join(str(part) for part in error['loc'] if part != 'body') or 'body'}: "
                 f"{error['msg']}" for error in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": "; ".join(lines)})

    def schema() -> dict[str, Any]:
        return get_openapi(title="review API", version="1", routes=router.routes,
                           description=(__doc__ or "").split("\n\n")[0])

    def analyst(name: Account) -> str:
        with ctx.account(name, action="view_results"):
            return name

    @app.get(f"{PREFIX}/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[str, Depends(analyst)]) -> JSONResponse:
        return JSONResponse(schema())

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs(_: Annotated[str, Depends(analyst)]) -> HTMLResponse:
        return HTMLResponse(docs_page(schema()))


def docs_page(document: dict[str, Any]) -> str:
    """A self-contained page of the API's routes from its OpenAPI document (nothing loaded from
    elsewhere, so it reads offline)."""
    rows = []
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            params = ", ".join(f"{p['name']} ({p['in']})" for p in operation.get("parameters", []))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            doc = (operation.get("description") or operation.get("summary") or "").strip()
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(doc)}</td><td>{html.escape(params)}"
                        f"{'<br>body: ' + html.escape(body_ref) if body_ref else ''}</td></tr>")
    schemas = []
    for schema_name, spec in document.get("components", {}).get("schemas", {}).items():
        fields = ", ".join(
            f"<code>{html.escape(field)}</code>" + (f" ({html.escape(info['description'])})"
                                                    if info.get("description") else "")
            for field, info in spec.get("properties", {}).items())
        schemas.append(f"<li><strong>{html.escape(schema_name)}</strong>: {fields}</li>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>review API v1</title><style>body{font-family:system-ui,sans-serif;margin:24px;"
            "max-width:1100px}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;"
            "padding:6px 8px;vertical-align:top;text-align:left}code{font-size:0.92em}</style></head>"
            f"<body><h1>review API v1</h1><p>{html.escape(document.get('info', {}).get('description', ''))}"
            " Sign in with <code>POST /login</code> (form fields <code>username</code>, "
            "<code>password</code>); the machine-readable document is "
            "<a href='openapi.json'>openapi.json</a>.</p>"
            "<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>"
            + "".join(rows) + "</table><h2>Shapes</h2><ul>" + "".join(schemas) + "</ul></body></html>")
