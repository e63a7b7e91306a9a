"""UWS 1.1 XML documents: job, job list, parameters, results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from tap_service.uws.store import Job

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_NS = f'xmlns:uws="{UWS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso(value: datetime | None) -> str:
    """Return an ISO 8601 UTC timestamp with a Z, as UWS shows times."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _element(name: str, value: str | None) -> str:
    if value is None or value == "":
        return f'<uws:{name} xsi:nil="true"/>'
    return f"<uws:{name}>{escape(value)}</uws:{name}>"


def visible_parameters(job: Job) -> dict[str, str]:
    """Return the parameters a client sees (internal ones start with '_')."""
    return {k: v for k, v in job.parameters.items() if not k.startswith("_") and isinstance(v, str)}


def parameters_xml(job: Job, *, document: bool = False) -> str:
    """Return the uws:parameters element (a whole document with ``document``)."""
    items = []
    for key, value in visible_parameters(job).items():
        by_ref = ' byReference="true"' if key == "UPLOAD" else ""
        items.append(f"<uws:parameter id={quoteattr(key.lower())}{by_ref}>"
                     f"{escape(value)}</uws:parameter>")
    ns = f" {_NS}" if document else ""
    body = f"<uws:parameters{ns}>" + "".join(items) + "</uws:parameters>"
    return _HEAD + body if document else body


def results_xml(job: Job, job_url: str, *, document: bool = False) -> str:
    """Return the uws:results element: one result with id 'result' once COMPLETED."""
    inner = ""
    if job.result_path:
        size = f' size="{job.result_size}"' if job.result_size is not None else ""
        mime = f" mime-type={quoteattr(job.result_mime)}" if job.result_mime else ""
        inner = (f'<uws:result id="result" xlink:type="simple" '
                 f'xlink:href={quoteattr(job_url + "/results/result")}{size}{mime}/>')
    ns = f" {_NS}" if document else ""
    body = f"<uws:results{ns}>{inner}</uws:results>"
    return _HEAD + body if document else body


def error_summary_xml(job: Job, job_url: str) -> str:
    """Return the uws:errorSummary element of a job in ERROR, or ''."""
    if job.error_message is None:
        return ""
    kind = "transient" if job.error_transient else "fatal"
    return (f'<uws:errorSummary type="{kind}" hasDetail="true">'
            f"<uws:message>{escape(job.error_message)}</uws:message></uws:errorSummary>")


JOBINFO_ROWS = "qsa_rows"
"""Our ``jobInfo`` element for the rows so far. Un-namespaced like Rubin's: a namespace
of our own makes validators (STILTS taplint) warn that they cannot check it."""


def job_info_xml(job: Job) -> str:
    """Return the uws:jobInfo element with the job's progress, or '' before it has any.

    The first three elements are named as Rubin's TAP service names them
    (``pct_complete``, ``tap_chunks_processed``, ``tap_total_chunks``), so a client
    written for one reads the other; the rows so far are ours (:data:`JOBINFO_ROWS`).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from tap_service.uws.store import Phase
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> job = Job("j1", "me", Phase.EXECUTING, now, 60, now, chunks_done=3, chunks_total=12,
    ...           rows_done=1500)
    >>> info = job_info_xml(job)
    >>> info.startswith("<uws:jobInfo><pct_complete>25</pct_complete>")
    True
    >>> "<tap_chunks_processed>3<" in info, "<tap_total_chunks>12<" in info, ">1500<" in info
    (True, True, True)
    """
    if job.chunks_total is None:
        return ""
    done, total = job.chunks_done or 0, job.chunks_total
    percent = 100 if total == 0 else int(100 * done / total)
    rows = (f"<{JOBINFO_ROWS}>{job.rows_done}</{JOBINFO_ROWS}>"
            if job.rows_done is not None else "")
    return (f"<uws:jobInfo><pct_complete>{percent}</pct_complete>"
            f"<tap_chunks_processed>{done}</tap_chunks_processed>"
            f"<tap_total_chunks>{total}</tap_total_chunks>{rows}</uws:jobInfo>")


def job_xml(job: Job, job_url: str, *, show_owner: bool) -> str:
    """Return the uws:job document, elements in the order of the UWS 1.1 schema."""
    parts = [
        f'{_HEAD}<uws:job {_NS} version="1.1">',
        _element("jobId", job.job_id),
        *([_element("runId", job.run_id)] if job.run_id else []),
        _element("ownerId", job.owner if show_owner else None),
        _element("phase", str(job.phase)),
        _element("quote", None),
        _element("creationTime", iso(job.creation_time)),
        _element("startTime", iso(job.start_time)),
        _element("endTime", iso(job.end_time)),
        _element("executionDuration", str(job.execution_duration_s)),
        _element("destruction", iso(job.destruction)),
        parameters_xml(job),
        results_xml(job, job_url),
        error_summary_xml(job, job_url),
        job_info_xml(job),
        "</uws:job>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def job_list_xml(jobs: Sequence[Job], base_url: str, *, show_owner: bool) -> str:
    """Return the uws:jobs document."""
    refs = []
    for job in jobs:
        owner = _element("ownerId", job.owner) if show_owner else ""
        run = _element("runId", job.run_id) if job.run_id else ""
        refs.append(
            f"<uws:jobref id={quoteattr(job.job_id)} xlink:type=\"simple\" "
            f"xlink:href={quoteattr(base_url + '/' + job.job_id)}>"
            f"{_element('phase', str(job.phase))}{run}{owner}"
            f"{_element('creationTime', iso(job.creation_time))}</uws:jobref>"
        )
    return f'{_HEAD}<uws:jobs {_NS} version="1.1">\n' + "\n".join(refs) + "\n</uws:jobs>\n"
