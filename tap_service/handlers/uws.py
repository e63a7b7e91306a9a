"""The asynchronous (UWS 1.1) endpoints."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tap_service.context import TapContext, get_context
from tap_service.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    error_response,
)
from tap_service.params import RequestParams, read_params
from tap_service.uploads import parse_upload_spec, read_uploads
from tap_service.uws.runner import UPLOAD_FILES_KEY
from tap_service.uws.store import ACTIVE_PHASES, Job, Phase, new_job_id, utcnow
from tap_service.uws.xml import job_list_xml, job_xml, parameters_xml, results_xml
from tap_service.votable import error_votable

router = APIRouter()
XML = "text/xml"
MAX_WAIT_S = 60.0
"""Longest a WAIT request blocks; clients such as pyvo simply ask again."""
UWS_CONTROL = {"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "ACTION"}


def _owner(ctx: TapContext, request: Request) -> str:
    return ctx.auth.owner(request)


def _job_for(ctx: TapContext, request: Request, job_id: str) -> Job:
    owner = _owner(ctx, request)
    job = ctx.store.get(job_id)
    if job is None:
        raise NotFoundError(f"No job '{job_id}' (it may have been destroyed).")
    if ctx.auth.enabled and job.owner != owner:
        raise ForbiddenError(f"Job '{job_id}' belongs to another user.")
    return job


def _to_job(request: Request, job_id: str) -> RedirectResponse:
    base = get_context(request).base_url(request)
    return RedirectResponse(f"{base}/async/{job_id}", status_code=303)


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"Invalid time '{value}': use ISO 8601, e.g. 2030-01-01T00:00:00Z."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=utcnow().tzinfo)
    return parsed


def _duration(ctx: TapContext, value: str) -> int:
    try:
        seconds = int(float(value))
    except ValueError:
        raise InvalidRequestError(
            f"Invalid EXECUTIONDURATION '{value}': give whole seconds."
        ) from None
    hard = int(ctx.settings.max_execution_duration.total_seconds())
    return hard if seconds <= 0 else min(seconds, hard)


def _destruction(ctx: TapContext, job: Job, value: str) -> datetime:
    return min(_parse_time(value), job.creation_time + ctx.settings.max_destruction)


@router.get("/async")
async def list_jobs(request: Request) -> Response:
    """UWS job list, filtered by PHASE, AFTER and LAST; only the caller's with tokens on."""
    ctx = get_context(request)
    try:
        owner = _owner(ctx, request)
        params = await read_params(request)
        phases = []
        for value in params.all("PHASE"):
            try:
                phases.append(Phase(value.upper()))
            except ValueError:
                raise InvalidRequestError(f"Unknown PHASE '{value}'.") from None
        after = _parse_time(params.get("AFTER") or "") if params.get("AFTER") else None
        last_text = params.get("LAST")
        last = None
        if last_text is not None:
            if not last_text.isdigit() or int(last_text) < 1:
                raise InvalidRequestError(f"Invalid LAST '{last_text}': give a positive integer.")
            last = int(last_text)
        jobs = await run_in_threadpool(
            ctx.store.list_jobs, owner=owner if ctx.auth.enabled else None, phases=phases,
            after=after, last=last,
        )
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    base = ctx.base_url(request) + "/async"
    return Response(job_list_xml(jobs, base, show_owner=ctx.auth.enabled), media_type=XML)


@router.post("/async")
async def create_job(request: Request) -> Response:
    """Create a job (PENDING, or QUEUED with PHASE=RUN) and redirect to it."""
    ctx = get_context(request)
    settings = ctx.settings
    try:
        owner = _owner(ctx, request)
        params = await read_params(request)
        job_id = new_job_id()
        now = utcnow()
        values: dict[str, object] = {k: v[-1] for k, v in params.values.items()
                                     if k not in UWS_CONTROL}
        upload = params.get("UPLOAD")
        if upload:
            values[UPLOAD_FILES_KEY] = await _store_uploads(ctx, params, job_id, upload)
        job = Job(
            job_id=job_id, owner=owner, phase=Phase.PENDING, creation_time=now,
            execution_duration_s=int(settings.default_execution_duration.total_seconds()),
            destruction=now + settings.default_destruction, parameters=values,
            run_id=params.get("RUNID"),
        )
        if params.get("EXECUTIONDURATION"):
            job = _replace(job, execution_duration_s=_duration(ctx, params.get("EXECUTIONDURATION")
                                                                  or ""))
        if params.get("DESTRUCTION"):
            job = _replace(job, destruction=_destruction(ctx, job, params.get("DESTRUCTION")
                                                         or ""))
        run = (params.get("PHASE") or "").upper() == "RUN"
        await run_in_threadpool(ctx.store.add, job)
        if run:
            await run_in_threadpool(_queue, ctx, job_id)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return _to_job(request, job_id)


def _replace(job: Job, **changes: object) -> Job:
    from dataclasses import replace

    return replace(job, **changes)  # type: ignore[arg-type]


async def _store_uploads(ctx: TapContext, params: RequestParams, job_id: str,
                         spec: str) -> dict[str, str]:
    settings = ctx.settings
    tables = await read_uploads(params, spec, max_bytes=settings.upload_max_bytes,
                                max_rows=settings.upload_max_rows,
                                allow_urls=settings.upload_allow_urls)
    folder = ctx.runner.job_dir(job_id) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stored = {}
    for name, _uri in parse_upload_spec(spec):
        # The parsed table is stored (Parquet keeps its types), not the uploaded bytes.
        import pyarrow.parquet as pq

        path = folder / f"{name.lower()}.parquet"
        pq.write_table(tables[name.lower()], path)
        stored[name.lower()] = str(path)
    return stored


def _queue(ctx: TapContext, job_id: str) -> None:
    if not ctx.store.update(job_id, only_if=[Phase.PENDING], phase=Phase.QUEUED):
        job = ctx.store.get(job_id)
        phase = job.phase if job else "deleted"
        if phase in (Phase.QUEUED, Phase.EXECUTING):
            return
        raise ConflictError(f"Job {job_id} is {phase}; only a PENDING job can be run.")
    ctx.runner.schedule()


async def _wait(ctx: TapContext, job: Job, params: RequestParams) -> Job:
    wait_text = params.get("WAIT")
    if wait_text is None:
        return job
    try:
        wait_s = float(wait_text)
    except ValueError:
        raise InvalidRequestError(f"Invalid WAIT '{wait_text}': give seconds.") from None
    wait_s = MAX_WAIT_S if wait_s < 0 else min(wait_s, MAX_WAIT_S)
    phase = params.get("PHASE")
    if job.phase not in ACTIVE_PHASES or (phase and phase.upper() != job.phase):
        return job
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while time.monotonic() < deadline:
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.2)
        current = await run_in_threadpool(ctx.store.get, job.job_id)
        if current is None or current.phase != job.phase:
            return current or job
    return job


@router.get("/async/{job_id}")
async def get_job(request: Request, job_id: str) -> Response:
    """The job document; WAIT (and PHASE) block until the phase changes."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        job = await _wait(ctx, job, await read_params(request))
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    url = f"{ctx.base_url(request)}/async/{job_id}"
    return Response(job_xml(job, url, show_owner=ctx.auth.enabled), media_type=XML)


async def _delete(request: Request, job_id: str) -> Response:
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        await run_in_threadpool(ctx.runner.destroy, job)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return RedirectResponse(f"{ctx.base_url(request)}/async", status_code=303)


@router.delete("/async/{job_id}")
async def delete_job(request: Request, job_id: str) -> Response:
    """Destroy a job and its result."""
    return await _delete(request, job_id)


@router.post("/async/{job_id}")
async def post_job(request: Request, job_id: str) -> Response:
    """ACTION=DELETE destroys the job; other parameters are set as on /parameters."""
    params = await read_params(request)
    if (params.get("ACTION") or "").upper() == "DELETE":
        return await _delete(request, job_id)
    if params.get("ACTION"):
        return error_response(InvalidRequestError(
            f"Unknown ACTION '{params.get('ACTION')}'; the only action is DELETE."))
    return await _set_parameters(request, job_id, params)


@router.get("/async/{job_id}/phase")
async def get_phase(request: Request, job_id: str) -> Response:
    """The job's phase as text."""
    return await _text(request, job_id, lambda job: str(job.phase))


@router.post("/async/{job_id}/phase")
async def post_phase(request: Request, job_id: str) -> Response:
    """PHASE=RUN queues the job, PHASE=ABORT aborts it."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        params = await read_params(request)
        phase = (params.get("PHASE") or "").upper()
        if phase == "RUN":
            await run_in_threadpool(_queue, ctx, job.job_id)
        elif phase == "ABORT":
            await run_in_threadpool(ctx.runner.abort, job.job_id)
        else:
            raise InvalidRequestError(f"Invalid PHASE '{phase}'; use RUN or ABORT.")
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return _to_job(request, job_id)


async def _text(request: Request, job_id: str, render: object) -> Response:
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return PlainTextResponse(render(job))  # type: ignore[operator]


def _iso(value: datetime | None) -> str:
    from tap_service.uws.xml import iso

    return iso(value)


@router.get("/async/{job_id}/executionduration")
async def get_execution_duration(request: Request, job_id: str) -> Response:
    """Execution duration in seconds."""
    return await _text(request, job_id, lambda job: str(job.execution_duration_s))


@router.get("/async/{job_id}/destruction")
async def get_destruction(request: Request, job_id: str) -> Response:
    """Destruction time."""
    return await _text(request, job_id, lambda job: _iso(job.destruction))


@router.get("/async/{job_id}/quote")
async def get_quote(request: Request, job_id: str) -> Response:
    """Estimated completion time: not predicted (empty)."""
    return await _text(request, job_id, lambda job: "")


@router.get("/async/{job_id}/owner")
async def get_owner(request: Request, job_id: str) -> Response:
    """Owner id (empty for anonymous use)."""
    ctx = get_context(request)
    return await _text(request, job_id, lambda job: job.owner if ctx.auth.enabled else "")


async def _set_field(request: Request, job_id: str, name: str) -> Response:
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        value = (await read_params(request)).get(name)
        if value is None:
            raise InvalidRequestError(f"Missing parameter {name}.")
        if name == "EXECUTIONDURATION":
            if job.phase != Phase.PENDING:
                raise ConflictError(f"Job {job_id} is {job.phase}; its duration is fixed.")
            await run_in_threadpool(ctx.store.update, job_id,
                                    execution_duration_s=_duration(ctx, value))
        else:
            await run_in_threadpool(ctx.store.update, job_id,
                                    destruction=_destruction(ctx, job, value))
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return _to_job(request, job_id)


@router.post("/async/{job_id}/executionduration")
async def post_execution_duration(request: Request, job_id: str) -> Response:
    """Change the execution duration of a PENDING job."""
    return await _set_field(request, job_id, "EXECUTIONDURATION")


@router.post("/async/{job_id}/destruction")
async def post_destruction(request: Request, job_id: str) -> Response:
    """Change the destruction time (capped)."""
    return await _set_field(request, job_id, "DESTRUCTION")


@router.get("/async/{job_id}/parameters")
async def get_parameters(request: Request, job_id: str) -> Response:
    """The job's parameters."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return Response(parameters_xml(job, document=True), media_type=XML)


async def _set_parameters(request: Request, job_id: str, params: RequestParams) -> Response:
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        values = {k: v[-1] for k, v in params.values.items() if k not in UWS_CONTROL}
        if values or params.files:
            if job.phase != Phase.PENDING:
                raise ConflictError(f"Job {job_id} is {job.phase}; parameters are fixed.")
            merged = {**job.parameters, **values}
            if params.get("UPLOAD"):
                merged[UPLOAD_FILES_KEY] = {
                    **job.parameters.get(UPLOAD_FILES_KEY, {}),
                    **await _store_uploads(ctx, params, job_id, params.get("UPLOAD") or ""),
                }
            await run_in_threadpool(ctx.store.update, job_id, parameters=merged)
        if params.get("EXECUTIONDURATION") and job.phase == Phase.PENDING:
            await run_in_threadpool(ctx.store.update, job_id, execution_duration_s=_duration(
                ctx, params.get("EXECUTIONDURATION") or ""))
        if params.get("DESTRUCTION"):
            await run_in_threadpool(ctx.store.update, job_id, destruction=_destruction(
                ctx, job, params.get("DESTRUCTION") or ""))
        if (params.get("PHASE") or "").upper() == "RUN":
            await run_in_threadpool(_queue, ctx, job_id)
        elif (params.get("PHASE") or "").upper() == "ABORT":
            await run_in_threadpool(ctx.runner.abort, job_id)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return _to_job(request, job_id)


@router.post("/async/{job_id}/parameters")
async def post_parameters(request: Request, job_id: str) -> Response:
    """Set parameters of a PENDING job."""
    return await _set_parameters(request, job_id, await read_params(request))


@router.get("/async/{job_id}/results")
async def get_results(request: Request, job_id: str) -> Response:
    """The uws:results list."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    url = f"{ctx.base_url(request)}/async/{job_id}"
    return Response(results_xml(job, url, document=True), media_type=XML)


@router.get("/async/{job_id}/results/result")
async def get_result(request: Request, job_id: str) -> Response:
    """The result file of a COMPLETED job."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        if job.phase != Phase.COMPLETED or not job.result_path:
            raise NotFoundError(f"Job {job_id} is {job.phase} and has no result.")
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return FileResponse(job.result_path, media_type=job.result_mime)


@router.get("/async/{job_id}/error")
async def get_error(request: Request, job_id: str) -> Response:
    """The error document of a job in ERROR."""
    ctx = get_context(request)
    try:
        job = await run_in_threadpool(_job_for, ctx, request, job_id)
        if job.error_message is None:
            raise NotFoundError(f"Job {job_id} is {job.phase} and has no error.")
    except Exception as exc:  # noqa: BLE001 - boundary
        return error_response(exc)
    return Response(error_votable(job.error_message), media_type="application/x-votable+xml")


__all__ = ["router"]
