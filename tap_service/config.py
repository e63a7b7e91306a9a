"""Settings of the TAP service: the one place that reads environment variables."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SECONDS = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")
"""A plain number of seconds, as an environment variable gives it (``QSA_TAP_SYNC_TIMEOUT=30``)."""


def _seconds_to_float(value: object) -> object:
    """Let a string of seconds through as a number (pydantic reads strings as ISO 8601 only)."""
    if isinstance(value, str) and _SECONDS.fullmatch(value):
        return float(value)
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("give a positive duration: seconds (30) or ISO 8601 (PT30S)")
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_to_float), AfterValidator(_positive)]
"""A positive duration given in seconds (``30``, ``0.5``) or ISO 8601 (``PT1H``, ``P7D``)."""


class TapSettings(BaseSettings):
    """Configuration of the TAP service; every field can be set as ``QSA_TAP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="QSA_TAP_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Data directory holding the catalogs.")
    dask_address: str | None = Field(
        None, description="Address of a dask scheduler; None runs queries in-process."
    )
    jobs_db: str | None = Field(
        None,
        description="SQLAlchemy URL of the UWS job database; default sqlite file in work_dir.",
    )
    work_dir: Path | None = Field(
        None, description="Folder for the job database and async results; default DATA_DIR/.tap."
    )
    tokens_file: Path | None = Field(
        None,
        description="File of 'token owner' lines; when set, bearer tokens are required.",
    )
    base_url: str | None = Field(
        None, description="Public base URL of the service (…/tap); default taken from requests."
    )
    default_maxrec: int = Field(100_000, description="MAXREC when the request gives none.", ge=0)
    hard_maxrec: int = Field(10_000_000, description="Largest MAXREC accepted.", ge=1)
    sync_timeout: Duration = Field(
        timedelta(seconds=600), description="Time limit of a synchronous query."
    )
    default_execution_duration: Duration = Field(
        timedelta(hours=1), description="Execution duration given to new async jobs."
    )
    max_execution_duration: Duration = Field(
        timedelta(hours=4), description="Largest execution duration a client may ask for."
    )
    default_destruction: Duration = Field(
        timedelta(days=7), description="Time from creation to the destruction of an async job."
    )
    max_destruction: Duration = Field(
        timedelta(days=30), description="Latest destruction time a client may ask for."
    )
    max_running_jobs: int = Field(4, description="Async jobs executing at once, overall.", ge=1)
    max_running_jobs_per_owner: int = Field(
        2, description="Async jobs executing at once for one owner.", ge=1
    )
    max_active_jobs_per_owner: int = Field(
        100,
        description="Async jobs one owner may hold PENDING, QUEUED or EXECUTING at once; "
        "creating more is refused (HTTP 429) until some finish or are deleted.",
        ge=1,
    )
    max_result_bytes: int = Field(
        10_000_000_000,
        description="Largest result file of one async job, in bytes; a job writing more "
        "ends in ERROR and its partial file is removed.",
        ge=1,
    )
    max_result_bytes_per_owner: int = Field(
        20_000_000_000,
        description="Result bytes one owner may keep stored (finished results and those "
        "being written); new jobs are refused and running ones stop when it is reached.",
        ge=1,
    )
    job_lease: Duration = Field(
        timedelta(seconds=30),
        description="How long a replica's hold on an async job it executes lasts unless "
        "renewed (it renews every third of it); once it lapses (the replica was killed or "
        "cut off) another replica queues the job again. Keep it well above the clock "
        "difference between the replicas' machines.",
    )
    job_poll_interval: Duration = Field(
        timedelta(seconds=0.5),
        description="How often each replica reads the job store for jobs queued through "
        "other replicas, aborts of the jobs it runs, and lapsed holds; an ABORT through one "
        "replica stops the query on another within about this delay.",
    )
    cleanup_interval: Duration = Field(
        timedelta(minutes=5), description="How often expired jobs and results are deleted."
    )
    upload_max_bytes: int = Field(
        20_000_000,
        description="Largest size of the tables uploaded with one request, together, in bytes; "
        "reading stops at the first byte over it (HTTP 413).",
        ge=1,
    )
    upload_max_rows: int = Field(1_000_000, description="Largest uploaded table, in rows.", ge=1)
    upload_allow_urls: bool = Field(
        True,
        description="Accept UPLOAD=name,http(s)://… (TAP 1.1 requires it of a service taking "
        "uploads): the service fetches the URL, from public addresses only.",
    )
    upload_allow_private_urls: bool = Field(
        False,
        description="Let URL uploads reach loopback, private and link-local addresses too; "
        "only where the service's network holds nothing a client should reach.",
    )
    form_max_bytes: int = Field(
        16_000_000,
        description="Largest size of a request's parameters other than uploaded tables, as "
        "sent (percent-escapes count), in bytes; room for the engine's 1,000,000-character "
        "query even when every character is escaped (HTTP 413 beyond).",
        ge=1024,
    )
    form_max_fields: int = Field(
        1000, description="Most parameters (and uploaded files) in one request (HTTP 400 beyond).",
        ge=10,
    )
    engine_threads: int | None = Field(
        None,
        description="Threads of the in-process engine; None: the CPUs shared out among "
        "PROCESSES (all the CPUs for one process).",
        ge=1,
    )
    processes: int = Field(
        1,
        description="Service processes sharing this machine's CPUs (`qserv-access serve "
        "--workers N` sets it); sizes SYNC_SLOTS and ENGINE_THREADS by default.",
        ge=1,
    )
    sync_slots: int | None = Field(
        None,
        description="Synchronous queries each service process runs at once; the others wait "
        "their turn, first come first served. None: two per CPU of the process's share "
        "(the CPUs shared out among PROCESSES).",
        ge=1,
    )
    sync_queue_patience: Duration = Field(
        timedelta(seconds=1),
        description="Longest a synchronous query waits for a slot; past it the query runs "
        "anyway, beside those running (so a long query delays short ones by at most this). "
        "The sync time limit counts from the request's arrival, the wait included.",
    )
    query_memory_mb: int | None = Field(
        None,
        description="Memory the running queries share, in MiB; beyond it they spill to "
        "WORK_DIR/spill (up to half of that disk's free space), then fail with an error naming "
        "the budget. None: a quarter of the machine's (or container's) memory.",
        ge=16,
    )

    @model_validator(mode="after")
    def _check_limits(self) -> TapSettings:
        if self.default_maxrec > self.hard_maxrec:
            raise ValueError("default_maxrec must not exceed hard_maxrec")
        if self.default_execution_duration > self.max_execution_duration:
            raise ValueError("default_execution_duration must not exceed max_execution_duration")
        if self.max_running_jobs_per_owner > self.max_running_jobs:
            raise ValueError("max_running_jobs_per_owner must not exceed max_running_jobs")
        return self

    @property
    def resolved_work_dir(self) -> Path:
        """Folder for the job database and results."""
        return self.work_dir if self.work_dir is not None else self.data_dir / ".tap"

    @property
    def resolved_jobs_db(self) -> str:
        """SQLAlchemy URL of the job database."""
        if self.jobs_db:
            return self.jobs_db
        return f"sqlite:///{self.resolved_work_dir / 'jobs.sqlite'}"
