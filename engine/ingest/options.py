"""The keyword options of the ingest entry points, typed once.

:func:`~engine.ingest.api.ingest_files`, :func:`~engine.ingest.api.ingest_batches` and
:func:`~engine.ingest.preflight.check_inputs` take these as keyword arguments
(``**options: Unpack[IngestOptions]``): mypy checks each keyword's name and type, and
:func:`checked` refuses an unknown one at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypedDict

from engine.errors import suggest
from engine.ingest.cluster import DaskTarget

DEFAULT_MARGIN_ARCSEC = 10.0
"""Overlap kept around each partition. It must exceed the largest cross-match radius we
accept, or pairs straddling a partition edge are lost."""


class TableOptions(TypedDict, total=False):
    """What an ingest makes of its table; every key is optional.

    Attributes
    ----------
    ra, dec
        Position columns (degrees): the table is positional, partitioned on the sky.
        Values must be finite, ra in [0, 360] (360 is accepted and is the same place as
        0; values are stored unchanged) and dec in [-90, 90]; anything else is an error
        naming the file, row and column (no silent wrapping).
    id_column
        Unique id of a positional table, indexed (the table becomes a director).
    director, director_key
        Make a child table placed with its director's rows, by this foreign key.
    schema_yaml
        A Felis YAML schema giving units, UCDs and descriptions.
    margin_arcsec
        Margin radius kept around each partition (default
        :data:`DEFAULT_MARGIN_ARCSEC`).
    max_rows_per_partition
        Adaptive partitioning threshold (default
        :data:`~engine.ingest.partitioning.DEFAULT_MAX_ROWS_PER_PARTITION`).
    allow_orphans
        Drop (and report) child rows whose director key is unknown instead of failing.
    """

    ra: str | None
    dec: str | None
    id_column: str | None
    director: str | None
    director_key: str | None
    schema_yaml: str | Path | None
    margin_arcsec: float
    max_rows_per_partition: int
    allow_orphans: bool


class IngestOptions(TableOptions, total=False):
    """:class:`TableOptions` and where and how the ingest runs.

    Attributes
    ----------
    workers
        Worker processes (default: the number of CPUs, at most 8).
    progress
        True (the default): a progress bar on stderr when it is a terminal;
        ``"always"``: even when it is not; False: none.
    dask
        Run the partitioning tasks on a dask distributed cluster instead of local worker
        processes: a scheduler address (``tcp://HOST:8786``) or a ``distributed.Client``.
        Its workers must see the data directory and the input files at the same paths as
        this process (checked before pass 1); this process publishes, atomically, as
        without it. A regular (unpartitioned) table is written by this process.
    """

    workers: int | None
    progress: bool | Literal["always"]
    dask: DaskTarget | None


def checked(options: TableOptions | IngestOptions, allowed: type, where: str) -> None:
    """Refuse keywords that are not options of ``allowed`` (a TypedDict above).

    Examples
    --------
    >>> checked({"ra": "ra"}, TableOptions, "check_inputs")
    >>> checked({"max_rows": 10}, TableOptions, "check_inputs")
    Traceback (most recent call last):
    ...
    TypeError: check_inputs() got an unexpected keyword argument 'max_rows'.
    """
    names = list(allowed.__annotations__)
    for key in options:
        if key not in names:
            raise TypeError(f"{where}() got an unexpected keyword argument {key!r}."
                            + suggest(key, names))
