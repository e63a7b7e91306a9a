"""The asynchronous (UWS 1.1) endpoints: parse the request, call the JobService, render.

The job logic lives in :mod:`tap_service.uws.service`; errors are raised and turned into
error documents by the service's one exception handler (``tap_service.app``).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tap_service.auth import ANONYMOUS
from tap_service.context import TapContext, get_context
from tap_service.errors import InvalidRequestError
from tap_service.params import (
    RequestParams,
    parse_execution_duration,
    parse_last,
    parse_time,
    parse_wait,
    read_params,
)
from tap_service.uploads import read_uploads
from tap_service.uws.service import MAX_WAIT_S, JobService
from tap_service.uws.store import Job, Phase
from tap_service.uws.xml import iso, job_list_xml, job_xml, parameters_xml, results_xml
from tap_service.votable import error_votable

router = APIRouter()
XML = "text/xml"
UWS_CONTROL = {"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "ACTION", "WAIT"}
"""UWS parameters that steer the job rather than being TAP parameters of its query."""


def caller(ctx: TapContext, request: Request) -> str:
    """The owner a request acts for: its token's owner, or the client address when anonymous.

    Per-owner quotas and running caps then apply to each anonymous client separately.
    """
    owner = ctx.auth.owner(request)
    if ctx.auth.enabled:
        return owner
    host = request.client.host if request.client is not None else "unknown"
    return f"{ANONYMOUS}@{host}"


def _jobs(request: Request) -> tuple[TapContext, JobService, str]:
    ctx = get_context(request)
    return ctx, ctx.jobs, caller(ctx, request)


def _to_job(ctx: TapContext, request: Request, job_id: str) -> RedirectResponse:
    return RedirectResponse(f"{ctx.base_url(request)}/async/{job_id}", status_code=303)


def _xml(text: str) -> Response:
    return Response(text, media_type=XML)


# ------------------------------------------------------------------ wire values


def _seconds(ctx: TapContext, value: str) -> int:
    return parse_execution_duration(
        value, max_s=int(ctx.settings.max_execution_duration.total_seconds()))


def _phases(params: RequestParams) -> list[Phase]:
    phases = []
    for value in params.all("PHASE"):
        try:
            phases.append(Phase(value.upper()))
        except ValueError:
            raise InvalidRequestError(f"Unknown PHASE '{value[:40]}'.") from None
    return phases


def _tap_values(params: RequestParams) -> dict[str, str]:
    return {k: v[-1] for k, v in params.values.items() if k not in UWS_CONTROL}


async def _uploads(ctx: TapContext, params: RequestParams) -> dict[str, pa.Table]:
    settings = ctx.settings
    return await read_uploads(params, params.get("UPLOAD"), max_bytes=settings.upload_max_bytes,
                              max_rows=settings.upload_max_rows,
                              allow_urls=settings.upload_allow_urls)


# ------------------------------------------------------------------ job list


@router.get("/async")
async def list_jobs(request: Request) -> Response:
    """UWS job list, filtered by PHASE, AFTER and LAST; only the caller's with tokens on."""
    ctx, jobs, owner = _jobs(request)
    params = await read_params(request)
    after = params.get("AFTER")
    last = params.get("LAST")
    found = await run_in_threadpool(
        jobs.list, owner, phases=_phases(params),
        after=parse_time(after, name="AFTER") if after else None,
        last=parse_last(last) if last is not None else None)
    return _xml(job_list_xml(found, ctx.base_url(request) + "/async",
                             show_owner=ctx.auth.enabled))


@router.post("/async")
async def create_job(request: Request) -> Response:
    """Create a job (PENDING, or QUEUED with PHASE=RUN) and redirect to it."""
    ctx, jobs, owner = _jobs(request)
    params = await read_params(request)
    duration = params.get("EXECUTIONDURATION")
    destruction = params.get("DESTRUCTION")
    job = await run_in_threadpool(
        jobs.create, owner, _tap_values(params), uploads=await _uploads(ctx, params),
        run_id=params.get("RUNID"),
        execution_duration_s=_seconds(ctx, duration) if duration else None,
        destruction=parse_time(destruction, name="DESTRUCTION") if destruction else None,
        run=(params.get("PHASE") or "").upper() == "RUN",
    )
    return _to_job(ctx, request, job.job_id)


# ------------------------------------------------------------------ one job


@router.get("/async/{job_id}")
async def get_job(request: Request, job_id: str) -> Response:
    """The job document; WAIT (and PHASE) block until the phase changes."""
    ctx, jobs, owner = _jobs(request)
    job = await run_in_threadpool(jobs.get, owner, job_id)
    params = await read_params(request)
    wait = params.get("WAIT")
    if wait is not None:
        phase = params.get("PHASE")
        job = await jobs.wait(job, parse_wait(wait, max_s=MAX_WAIT_S),
                              phase=_phases(params)[-1] if phase else None)
    url = f"{ctx.base_url(request)}/async/{job_id}"
    return _xml(job_xml(job, url, show_owner=ctx.auth.enabled))


@router.delete("/async/{job_id}")
async def delete_job(request: Request, job_id: str) -> Response:
    """Destroy a job and its result."""
    ctx, jobs, owner = _jobs(request)
    await run_in_threadpool(jobs.delete, owner, job_id)
    return RedirectResponse(f"{ctx.base_url(request)}/async", status_code=303)


@router.post("/async/{job_id}")
async def post_job(request: Request, job_id: str) -> Response:
    """ACTION=DELETE destroys the job; other parameters are set as on /parameters."""
    params = await read_params(request)
    action = params.get("ACTION")
    if action and action.upper() == "DELETE":
        return await delete_job(request, job_id)
    if action:
        raise InvalidRequestError(f"Unknown ACTION '{action[:40]}'; the only action is DELETE.")
    return await _update(request, job_id, params)


async def _update(request: Request, job_id: str, params: RequestParams) -> Response:
    ctx, jobs, owner = _jobs(request)
    await run_in_threadpool(jobs.get, owner, job_id)  # 404/403 before reading any upload
    duration = params.get("EXECUTIONDURATION")
    destruction = params.get("DESTRUCTION")
    await run_in_threadpool(
        jobs.update, owner, job_id, _tap_values(params), uploads=await _uploads(ctx, params),
        execution_duration_s=_seconds(ctx, duration) if duration else None,
        destruction=parse_time(destruction, name="DESTRUCTION") if destruction else None,
        phase=params.get("PHASE") or None,
    )
    return _to_job(ctx, request, job_id)


@router.get("/async/{job_id}/parameters")
async def get_parameters(request: Request, job_id: str) -> Response:
    """The job's parameters."""
    _, jobs, owner = _jobs(request)
    job = await run_in_threadpool(jobs.get, owner, job_id)
    return _xml(parameters_xml(job, document=True))


@router.post("/async/{job_id}/parameters")
async def post_parameters(request: Request, job_id: str) -> Response:
    """Set parameters of a PENDING job."""
    return await _update(request, job_id, await read_params(request))


@router.post("/async/{job_id}/phase")
async def post_phase(request: Request, job_id: str) -> Response:
    """PHASE=RUN queues the job, PHASE=ABORT aborts it."""
    ctx, jobs, owner = _jobs(request)
    params = await read_params(request)
    await run_in_threadpool(jobs.set_phase, owner, job_id, params.get("PHASE") or "")
    return _to_job(ctx, request, job_id)


@router.post("/async/{job_id}/executionduration")
async def post_execution_duration(request: Request, job_id: str) -> Response:
    """Change the execution duration of a PENDING job."""
    ctx, jobs, owner = _jobs(request)
    value = _required(await read_params(request), "EXECUTIONDURATION")
    await run_in_threadpool(jobs.set_execution_duration, owner, job_id, _seconds(ctx, value))
    return _to_job(ctx, request, job_id)


@router.post("/async/{job_id}/destruction")
async def post_destruction(request: Request, job_id: str) -> Response:
    """Change the destruction time (capped)."""
    ctx, jobs, owner = _jobs(request)
    value = _required(await read_params(request), "DESTRUCTION")
    await run_in_threadpool(jobs.set_destruction, owner, job_id,
                            parse_time(value, name="DESTRUCTION"))
    return _to_job(ctx, request, job_id)


def _required(params: RequestParams, name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidRequestError(f"Missing parameter {name}.")
    return value


async def _text(request: Request, job_id: str, render: Callable[[Job], str]) -> Response:
    _, jobs, owner = _jobs(request)
    return PlainTextResponse(render(await run_in_threadpool(jobs.get, owner, job_id)))


@router.get("/async/{job_id}/phase")
async def get_phase(request: Request, job_id: str) -> Response:
    """The job's phase as text."""
    return await _text(request, job_id, lambda job: str(job.phase))


@router.get("/async/{job_id}/executionduration")
async def get_execution_duration(request: Request, job_id: str) -> Response:
    """Execution duration in seconds."""
    return await _text(request, job_id, lambda job: str(job.execution_duration_s))


@router.get("/async/{job_id}/destruction")
async def get_destruction(request: Request, job_id: str) -> Response:
    """Destruction time."""
    return await _text(request, job_id, lambda job: iso(job.destruction))


@router.get("/async/{job_id}/quote")
async def get_quote(request: Request, job_id: str) -> Response:
    """Estimated completion time: not predicted (empty)."""
    return await _text(request, job_id, lambda job: "")


@router.get("/async/{job_id}/owner")
async def get_owner(request: Request, job_id: str) -> Response:
    """Owner id (empty for anonymous use)."""
    shown = get_context(request).auth.enabled
    return await _text(request, job_id, lambda job: job.owner if shown else "")


@router.get("/async/{job_id}/results")
async def get_results(request: Request, job_id: str) -> Response:
    """The uws:results list."""
    ctx, jobs, owner = _jobs(request)
    job = await run_in_threadpool(jobs.get, owner, job_id)
    return _xml(results_xml(job, f"{ctx.base_url(request)}/async/{job_id}", document=True))


@router.get("/async/{job_id}/results/result")
async def get_result(request: Request, job_id: str) -> Response:
    """The result file of a COMPLETED job (otherwise an error saying why there is none)."""
    _, jobs, owner = _jobs(request)
    job = await run_in_threadpool(jobs.result, owner, job_id)
    return FileResponse(job.result_path or "", media_type=job.result_mime)


@router.get("/async/{job_id}/error")
async def get_error(request: Request, job_id: str) -> Response:
    """The error document of a job in ERROR."""
    _, jobs, owner = _jobs(request)
    message = await run_in_threadpool(jobs.error, owner, job_id)
    return Response(error_votable(message), media_type="application/x-votable+xml")


__all__ = ["caller", "router"]
