"""The UWS job store: one SQLAlchemy table, an SQLite file by default or PostgreSQL by URL."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool


class Phase(StrEnum):
    """UWS 1.1 execution phases; values are exactly the UWS strings."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


ACTIVE_PHASES = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})

_metadata = sa.MetaData()
jobs_table = sa.Table(
    "uws_jobs",
    _metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, index=True),
    sa.Column("run_id", sa.String(200)),
    sa.Column("phase", sa.String(16), nullable=False, index=True),
    sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("start_time", sa.DateTime(timezone=True)),
    sa.Column("end_time", sa.DateTime(timezone=True)),
    sa.Column("execution_duration_s", sa.Integer, nullable=False),
    sa.Column("destruction", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("error_transient", sa.Boolean),
    sa.Column("result_path", sa.Text),
    sa.Column("result_mime", sa.String(200)),
    sa.Column("result_size", sa.BigInteger),
    sa.Column("overflow", sa.Boolean),
    sa.Column("chunks_done", sa.Integer),
    sa.Column("chunks_total", sa.Integer),
    sa.Column("rows_done", sa.BigInteger),
    sa.Column("runner", sa.String(200)),
    sa.Column("heartbeat", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer),
    sa.Column("bytes_written", sa.BigInteger),
)

PROGRESS_COLUMNS = ("chunks_done", "chunks_total", "rows_done")
"""Columns added after the first release: a job database made before them gets them
added when opened (they are nullable, so old rows simply have no progress)."""

LEASE_COLUMNS = ("runner", "heartbeat", "attempts", "bytes_written")
"""Columns of the lease an executing job is held under (which replica runs it, when it
last said so, how many times it was started) and the bytes its result has so far; added
to older databases as the progress columns are."""

ADDED_COLUMNS = PROGRESS_COLUMNS + LEASE_COLUMNS


def utcnow() -> datetime:
    """Return the current time, timezone-aware, whole milliseconds."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class Job:
    """One UWS job as stored."""

    job_id: str
    owner: str
    phase: Phase
    creation_time: datetime
    execution_duration_s: int
    destruction: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    """TAP parameters with upper-case names (values are strings); UPLOAD files are stored
    under the job folder and named here as ``UPLOAD_FILES: {part: path}``."""
    run_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    error_message: str | None = None
    error_transient: bool | None = None
    result_path: str | None = None
    result_mime: str | None = None
    result_size: int | None = None
    overflow: bool | None = None
    chunks_done: int | None = None
    """Chunks the job's query has read (updated while it runs; None before it starts)."""
    chunks_total: int | None = None
    """Chunks the job's query reads."""
    rows_done: int | None = None
    """Result rows written so far."""
    runner: str | None = None
    """Replica executing the job, or that last ran it to its end (see
    :mod:`tap_service.uws.lease`); None before it starts or when queued again."""
    heartbeat: datetime | None = None
    """When that replica last renewed its lease on the job."""
    attempts: int | None = None
    """How many times the job was started (a replica lost mid-job makes it start again)."""
    bytes_written: int | None = None
    """Bytes of the result written so far while it executes."""

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Job:
        """Build a job from a database row."""
        m = row._mapping
        return cls(
            job_id=m["job_id"], owner=m["owner"], phase=Phase(m["phase"]),
            creation_time=_aware(m["creation_time"]),  # type: ignore[arg-type]
            execution_duration_s=m["execution_duration_s"],
            destruction=_aware(m["destruction"]),  # type: ignore[arg-type]
            parameters=json.loads(m["parameters"]), run_id=m["run_id"],
            start_time=_aware(m["start_time"]), end_time=_aware(m["end_time"]),
            error_message=m["error_message"], error_transient=m["error_transient"],
            result_path=m["result_path"], result_mime=m["result_mime"],
            result_size=m["result_size"], overflow=m["overflow"],
            chunks_done=m["chunks_done"], chunks_total=m["chunks_total"],
            rows_done=m["rows_done"], runner=m["runner"],
            heartbeat=_aware(m["heartbeat"]), attempts=m["attempts"],
            bytes_written=m["bytes_written"],
        )

    def to_row(self) -> dict[str, Any]:
        """Return the column values of this job."""
        return {
            "job_id": self.job_id, "owner": self.owner, "run_id": self.run_id,
            "phase": str(self.phase), "creation_time": self.creation_time,
            "start_time": self.start_time, "end_time": self.end_time,
            "execution_duration_s": self.execution_duration_s, "destruction": self.destruction,
            "parameters": json.dumps(self.parameters), "error_message": self.error_message,
            "error_transient": self.error_transient, "result_path": self.result_path,
            "result_mime": self.result_mime, "result_size": self.result_size,
            "overflow": self.overflow, "chunks_done": self.chunks_done,
            "chunks_total": self.chunks_total, "rows_done": self.rows_done,
            "runner": self.runner, "heartbeat": self.heartbeat, "attempts": self.attempts,
            "bytes_written": self.bytes_written,
        }


def new_job_id() -> str:
    """Return an unguessable job id."""
    return secrets.token_hex(8)


class Lease(NamedTuple):
    """Who holds an executing job: the replica's id and the attempt it started.

    Every write a replica makes about a job it runs is made only while the job is still
    EXECUTING under this lease, so a replica that lost its lease changes nothing.
    """

    runner: str
    attempt: int


SCHEMA_TRIES = 5
"""Replicas starting together may race to create the table or add a column: the loser
of such a race tries again (and then finds the work done)."""


def _lock_key(owner: str) -> int:
    """The PostgreSQL advisory lock key of one owner (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(owner.encode()).digest()[:8], "big", signed=True)


def _phase_in(phases: Sequence[Phase]) -> sa.ColumnElement[bool]:
    return jobs_table.c.phase.in_([str(p) for p in phases])


def _held_by(lease: Lease) -> sa.ColumnElement[bool]:
    """The condition that a job is (still) executing under ``lease``."""
    c = jobs_table.c
    return sa.and_(c.phase == str(Phase.EXECUTING), c.runner == lease.runner,
                   c.attempts == lease.attempt)


def _active_count(owner: str) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(jobs_table).where(
        jobs_table.c.owner == owner, _phase_in(list(ACTIVE_PHASES)))


def _result_bytes(owner: str, excluding: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(jobs_table.c.result_size), 0)).where(
        jobs_table.c.owner == owner, jobs_table.c.result_path.is_not(None))
    if excluding is not None:
        stmt = stmt.where(jobs_table.c.job_id != excluding)
    return stmt


class JobStore:
    """Jobs in a SQL database; safe to share between threads, and between processes (the
    replicas of one service) through SQLite on one machine or PostgreSQL on several."""

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs = {"poolclass": StaticPool}
            else:
                Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True, **kwargs)
        for attempt in range(SCHEMA_TRIES):
            try:
                self._create_schema()
                break
            except sa.exc.DBAPIError:
                if attempt == SCHEMA_TRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _create_schema(self) -> None:
        if self.engine.dialect.name == "sqlite":
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        _metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Give a job table made by an older version the columns added since."""
        present = {c["name"] for c in sa.inspect(self.engine).get_columns(jobs_table.name)}
        with self.engine.begin() as conn:
            for name in ADDED_COLUMNS:
                if name not in present:
                    column = jobs_table.c[name]
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {jobs_table.name} ADD COLUMN "{name}" {kind}')

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def _lock_owner(self, conn: sa.Connection, owner: str) -> None:
        """Serialize, across replicas, the transactions that count an owner's jobs and then
        add or start one, until ``conn``'s transaction ends."""
        if self.engine.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(owner))))
        else:
            # SQLite: a write statement takes the database's write lock for the transaction
            # (waiting up to the busy timeout), even when it changes no row.
            conn.execute(jobs_table.update().where(sa.false()).values(owner=jobs_table.c.owner))

    def add(self, job: Job) -> None:
        """Insert a new job."""
        with self.engine.begin() as conn:
            conn.execute(jobs_table.insert().values(**job.to_row()))

    def add_within(self, job: Job, check: Callable[[int, int], None]) -> None:
        """Insert a new job unless ``check(active_jobs, result_bytes)`` of its owner raises.

        The count, the check and the insert are one transaction under the owner's lock, so
        concurrent requests through any replicas cannot all pass the same check.
        """
        with self.engine.begin() as conn:
            self._lock_owner(conn, job.owner)
            active = int(conn.execute(_active_count(job.owner)).scalar_one())
            check(active, int(conn.execute(_result_bytes(job.owner)).scalar_one()))
            conn.execute(jobs_table.insert().values(**job.to_row()))

    def get(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                jobs_table.select().where(jobs_table.c.job_id == job_id)
            ).first()
        return Job.from_row(row) if row is not None else None

    def update(self, job_id: str, *, only_if: Sequence[Phase] = (), held_by: Lease | None = None,
               **values: Any) -> bool:
        """Change fields of a job; with ``only_if``, only when it is in one of those phases;
        with ``held_by``, only while it executes under that lease."""
        if "parameters" in values:
            values["parameters"] = json.dumps(values["parameters"])
        if "phase" in values:
            values["phase"] = str(values["phase"])
        stmt = jobs_table.update().where(jobs_table.c.job_id == job_id).values(**values)
        if only_if:
            stmt = stmt.where(_phase_in(only_if))
        if held_by is not None:
            stmt = stmt.where(_held_by(held_by))
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def delete(self, job_id: str) -> None:
        """Remove a job."""
        with self.engine.begin() as conn:
            conn.execute(jobs_table.delete().where(jobs_table.c.job_id == job_id))

    def list_jobs(self, *, owner: str | None = None, phases: Sequence[Phase] = (),
             after: datetime | None = None, last: int | None = None) -> list[Job]:
        """Return jobs, newest first when ``last`` is given, else oldest first."""
        stmt = jobs_table.select()
        if owner is not None:
            stmt = stmt.where(jobs_table.c.owner == owner)
        if phases:
            stmt = stmt.where(_phase_in(phases))
        else:
            stmt = stmt.where(jobs_table.c.phase != str(Phase.ARCHIVED))
        if after is not None:
            stmt = stmt.where(jobs_table.c.creation_time > after)
        if last is not None:
            stmt = stmt.order_by(jobs_table.c.creation_time.desc()).limit(last)
        else:
            stmt = stmt.order_by(jobs_table.c.creation_time)
        with self.engine.connect() as conn:
            return [Job.from_row(r) for r in conn.execute(stmt)]

    def count_active(self, owner: str) -> int:
        """Return how many of ``owner``'s jobs are PENDING, QUEUED or EXECUTING."""
        with self.engine.connect() as conn:
            return int(conn.execute(_active_count(owner)).scalar_one())

    def result_bytes(self, owner: str, *, excluding: str | None = None) -> int:
        """Return the bytes of ``owner``'s stored results (one job left out by ``excluding``)."""
        with self.engine.connect() as conn:
            return int(conn.execute(_result_bytes(owner, excluding)).scalar_one())

    def writing_bytes(self, owner: str, *, other_than: str) -> int:
        """Bytes ``owner``'s executing jobs on replicas other than ``other_than`` have written
        (as they last reported them)."""
        c = jobs_table.c
        stmt = sa.select(sa.func.coalesce(sa.func.sum(c.bytes_written), 0)).where(
            c.owner == owner, c.phase == str(Phase.EXECUTING),
            sa.or_(c.runner.is_(None), c.runner != other_than))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def expired(self, now: datetime) -> list[Job]:
        """Return jobs whose destruction time has passed."""
        with self.engine.connect() as conn:
            rows = conn.execute(jobs_table.select().where(jobs_table.c.destruction <= now))
            return [Job.from_row(r) for r in rows]

    def with_phase(self, *phases: Phase) -> list[Job]:
        """Return the jobs in the given phases, oldest first."""
        return self.list_jobs(phases=phases)

    # ------------------------------------------------------------ leases

    def claim(self, job_id: str, owner: str, runner: str, *, max_per_owner: int) -> Lease | None:
        """Start a QUEUED job under a new lease of ``runner``; None when it is no longer
        QUEUED (another replica took it) or its owner already has ``max_per_owner`` jobs
        executing on all replicas together."""
        c = jobs_table.c
        with self.engine.begin() as conn:
            self._lock_owner(conn, owner)
            executing = conn.execute(sa.select(sa.func.count()).select_from(jobs_table).where(
                c.owner == owner, c.phase == str(Phase.EXECUTING))).scalar_one()
            if executing >= max_per_owner:
                return None
            now = utcnow()
            claimed = conn.execute(
                jobs_table.update()
                .where(c.job_id == job_id, c.phase == str(Phase.QUEUED))
                .values(phase=str(Phase.EXECUTING), runner=runner, heartbeat=now,
                        start_time=now, attempts=sa.func.coalesce(c.attempts, 0) + 1,
                        bytes_written=None)
            ).rowcount
            if not claimed:
                return None
            attempt = conn.execute(sa.select(c.attempts).where(c.job_id == job_id)).scalar_one()
        return Lease(runner, int(attempt))

    def renew(self, runner: str, now: datetime) -> int:
        """Renew the leases of every job ``runner`` executes; return how many."""
        c = jobs_table.c
        with self.engine.begin() as conn:
            return int(conn.execute(
                jobs_table.update().where(c.runner == runner, c.phase == str(Phase.EXECUTING))
                .values(heartbeat=now)).rowcount)

    def holders(self, job_ids: Sequence[str]) -> dict[str, Lease | None]:
        """The lease each of these jobs executes under (None: not executing); deleted
        jobs are missing from the answer."""
        c = jobs_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.job_id, c.phase, c.runner, c.attempts)
                                .where(c.job_id.in_(list(job_ids))))
            return {r.job_id: Lease(r.runner, r.attempts or 0)
                    if r.phase == str(Phase.EXECUTING) and r.runner is not None else None
                    for r in rows}

    def executing(self, *, lapsed_before: datetime | None = None) -> list[Job]:
        """Executing jobs; with ``lapsed_before``, only those whose lease was last renewed
        before then (or never: jobs left by a version without leases)."""
        c = jobs_table.c
        stmt = jobs_table.select().where(c.phase == str(Phase.EXECUTING))
        if lapsed_before is not None:
            stmt = stmt.where(sa.or_(c.heartbeat.is_(None), c.heartbeat < lapsed_before))
        with self.engine.connect() as conn:
            return [Job.from_row(r) for r in conn.execute(stmt.order_by(c.creation_time))]

    def take_back(self, job: Job, *, lapsed_before: datetime | None = None,
                  **values: Any) -> bool:
        """Take an executing job away from the replica holding it, setting ``values`` (a
        new phase); only if it is still under the lease it had in ``job`` and, with
        ``lapsed_before``, that lease was not renewed since."""
        c = jobs_table.c
        held = (_held_by(Lease(job.runner, job.attempts or 0)) if job.runner is not None
                else sa.and_(c.phase == str(Phase.EXECUTING), c.runner.is_(None)))
        stmt = jobs_table.update().where(c.job_id == job.job_id, held)
        if job.attempts is None:
            stmt = stmt.where(c.attempts.is_(None))
        if lapsed_before is not None:
            stmt = stmt.where(sa.or_(c.heartbeat.is_(None), c.heartbeat < lapsed_before))
        if "phase" in values:
            values["phase"] = str(values["phase"])
        with self.engine.begin() as conn:
            return bool(conn.execute(stmt.values(runner=None, heartbeat=None,
                                                 bytes_written=None, **values)).rowcount)


__all__ = ["ACTIVE_PHASES", "FINAL_PHASES", "Job", "JobStore", "Lease", "Phase", "new_job_id",
           "replace", "utcnow"]
