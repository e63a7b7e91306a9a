"""The UWS job store: one SQLAlchemy table, an SQLite file by default or PostgreSQL by URL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

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
)

PROGRESS_COLUMNS = ("chunks_done", "chunks_total", "rows_done")
"""Columns added after the first release: a job database made before them gets them
added when opened (they are nullable, so old rows simply have no progress)."""


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
            rows_done=m["rows_done"],
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
        }


def new_job_id() -> str:
    """Return an unguessable job id."""
    return secrets.token_hex(8)


class JobStore:
    """Jobs in a SQL database; safe to share between threads."""

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
        if url.startswith("sqlite"):
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        _metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Give a job table made by an older version the columns added since."""
        present = {c["name"] for c in sa.inspect(self.engine).get_columns(jobs_table.name)}
        with self.engine.begin() as conn:
            for name in PROGRESS_COLUMNS:
                if name not in present:
                    column = jobs_table.c[name]
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {jobs_table.name} ADD COLUMN "{name}" {kind}')

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def add(self, job: Job) -> None:
        """Insert a new job."""
        with self.engine.begin() as conn:
            conn.execute(jobs_table.insert().values(**job.to_row()))

    def get(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                jobs_table.select().where(jobs_table.c.job_id == job_id)
            ).first()
        return Job.from_row(row) if row is not None else None

    def update(self, job_id: str, *, only_if: Sequence[Phase] = (), **values: Any) -> bool:
        """Change fields of a job; with ``only_if``, only when it is in one of those phases."""
        if "parameters" in values:
            values["parameters"] = json.dumps(values["parameters"])
        if "phase" in values:
            values["phase"] = str(values["phase"])
        stmt = jobs_table.update().where(jobs_table.c.job_id == job_id).values(**values)
        if only_if:
            stmt = stmt.where(jobs_table.c.phase.in_([str(p) for p in only_if]))
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
            stmt = stmt.where(jobs_table.c.phase.in_([str(p) for p in phases]))
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
        stmt = sa.select(sa.func.count()).select_from(jobs_table).where(
            jobs_table.c.owner == owner,
            jobs_table.c.phase.in_([str(p) for p in ACTIVE_PHASES]))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def result_bytes(self, owner: str, *, excluding: str | None = None) -> int:
        """Return the bytes of ``owner``'s stored results (one job left out by ``excluding``)."""
        stmt = sa.select(sa.func.coalesce(sa.func.sum(jobs_table.c.result_size), 0)).where(
            jobs_table.c.owner == owner, jobs_table.c.result_path.is_not(None))
        if excluding is not None:
            stmt = stmt.where(jobs_table.c.job_id != excluding)
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


__all__ = ["ACTIVE_PHASES", "FINAL_PHASES", "Job", "JobStore", "Phase", "new_job_id", "replace",
           "utcnow"]
