"""A query panel for Jupyter: ADQL editor, Run/Cancel, live progress, a paged result and
the list of the jobs run from it.

Queries run as jobs (``catalog.submit``), followed on a thread, so the notebook stays
responsive; it works the same on the embedded engine and on a TAP service. Every display
also carries a text and an HTML summary, replaced by the final one when a job ends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from qserv_access.jobs import format_duration, plural
from qserv_access.widgets._extra import require
from qserv_access.widgets.progress import JobProgressBar, progress_html
from qserv_access.widgets.table_page import error_html, page_html, page_text

if TYPE_CHECKING:
    from astropy.table import Table

    from qserv_access.catalog import Catalog
    from qserv_access.jobs import Job

__all__ = ["PAGE_SIZES", "PanelRun", "QueryPanel", "query_panel"]

log = logging.getLogger(__name__)

PAGE_SIZES = (10, 20, 50, 100)
"""Rows per page offered; one page is rendered as HTML, so a big result stays cheap."""

LIST_REFRESH_S = 1.0
"""Seconds between two refreshes of a running job's line in the job list (phase, rows,
elapsed); the bar itself refreshes faster."""


@dataclass(eq=False)
class PanelRun:
    """One query run from the panel: its job, and once ended its result or error."""

    job: Job
    bar: JobProgressBar
    result: Table | None = None
    error: str | None = None
    """``ClassName: message`` of the exception the job ended with (no traceback)."""
    finished: bool = False
    """True once the result or error is in (the job itself has finished)."""
    ended: threading.Event = field(default_factory=threading.Event)
    """Set once the panel shows the result or error."""

    def label(self) -> str:
        """One line for the job list: id, phase, rows, elapsed."""
        p = self.job.progress
        rows = len(self.result) if self.result is not None else p.rows
        parts = [self.job.job_id, str(p.phase)]
        if rows is not None:
            parts.append(plural(rows, "row"))
        parts.append(format_duration(p.elapsed_s))
        return " · ".join(parts)


def _default_adql(catalog: Catalog) -> str:
    try:
        info = catalog.table_info(None)
    except Exception:  # noqa: BLE001 - only a hint for the editor; any catalog will do
        return "SELECT TOP 10 * FROM TAP_SCHEMA.tables"
    return f"SELECT TOP 100 * FROM {info.name}"


class QueryPanel:
    """ADQL editor, Run and Cancel, live progress, a paged result and a job list.

    Parameters
    ----------
    catalog
        What ``qserv_access.connect`` returned (embedded or a TAP service).
    adql
        Initial text of the editor (default: the first 100 rows of the first positional
        table).
    page_size
        Rows per page of the result.
    maxrec
        Row limit handed to each job (default: the catalog's).
    """

    def __init__(self, catalog: Catalog, adql: str | None = None, *, page_size: int = 20,
                 maxrec: int | None = None) -> None:
        w = require("ipywidgets", "Query panels")
        self.catalog = catalog
        self.maxrec = maxrec
        self.runs: list[PanelRun] = []
        self.shown: PanelRun | None = None
        self.page = 0
        self._lock = threading.RLock()
        self._display_id: str | None = None
        self._relabelling = False
        self.editor = w.Textarea(value=adql if adql is not None else _default_adql(catalog),
                                 placeholder="SELECT ... FROM ...", rows=5,
                                 layout=w.Layout(width="100%"))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play",
                                   tooltip="Submit the query as a job")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True,
                                      tooltip="Cancel the shown job's chunk tasks")
        self.progress_box = w.HBox([])
        self.message = w.HTML(value="")
        self.table = w.HTML(value="")
        self.prev_button = w.Button(description="Prev", icon="chevron-left", disabled=True)
        self.next_button = w.Button(description="Next", icon="chevron-right", disabled=True)
        options = sorted({*PAGE_SIZES, page_size})
        self.page_size = w.Dropdown(options=options, value=page_size, description="rows/page",
                                    layout=w.Layout(width="12em"))
        self.page_label = w.Label(value="")
        self.jobs = w.Select(options=[], rows=4, description="jobs",
                             layout=w.Layout(width="100%"))
        self.run_button.on_click(lambda _b: self._guard(self.run))
        self.cancel_button.on_click(lambda _b: self._guard(self.cancel))
        self.prev_button.on_click(lambda _b: self._guard(self.show_page, self.page - 1))
        self.next_button.on_click(lambda _b: self._guard(self.show_page, self.page + 1))
        self.page_size.observe(lambda _c: self._guard(self.show_page, 0), names="value")
        self.jobs.observe(self._on_select, names="value")
        self.widget = w.VBox([
            self.editor, w.HBox([self.run_button, self.cancel_button, self.progress_box]),
            self.message, self.table,
            w.HBox([self.prev_button, self.next_button, self.page_size, self.page_label]),
            self.jobs])
        self.widget.add_class("qsa-query-panel")

    # -- actions -----------------------------------------------------------------------

    def _guard(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except Exception as exc:  # widget callback boundary: show it, never crash the comm
            log.exception("query panel action failed")
            self.message.value = error_html(type(exc).__name__, str(exc))

    def run(self, adql: str | None = None) -> Job | None:
        """Submit the editor's query (or ``adql``) as a job and show it; return the job,
        or None when the catalog refused it at once (the panel shows why)."""
        text = (adql if adql is not None else self.editor.value).strip()
        if adql is not None:
            self.editor.value = adql
        if not text:
            self.message.value = error_html("No query", "Type an ADQL query, then Run.")
            return None
        try:
            job = self.catalog.submit(text, maxrec=self.maxrec)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, as a failed job would be
            self.message.value = error_html(type(exc).__name__, str(exc))
            return None
        run = PanelRun(job=job, bar=JobProgressBar(job))
        with self._lock:
            self.runs.append(run)
            self.shown = run
            self._refresh_jobs()
            self._show(run)
        threading.Thread(target=self._follow, args=(run,), daemon=True,
                         name=f"panel-{job.job_id}").start()
        return job

    def cancel(self) -> None:
        """Cancel the shown job, if it is still running."""
        run = self.shown
        if run is not None and not run.job.done():
            self.cancel_button.disabled = True
            self.cancel_button.description = "Cancelling"
            run.job.cancel()

    def _follow(self, run: PanelRun) -> None:
        """Wait for the job on a thread, then keep its result or error and show it."""
        try:
            try:
                while not run.job.done():
                    run.job.wait(LIST_REFRESH_S)
                    with self._lock:
                        self._refresh_jobs()
                run.result = run.job.result(timeout_s=0)
            except Exception as exc:  # noqa: BLE001 - thread boundary: shown in the panel
                run.error = f"{type(exc).__name__}: {exc}"
            run.bar._thread.join(5.0)
            run.bar.refresh()
            with self._lock:
                run.finished = True
                self._refresh_jobs()
                if run is self.shown:
                    self._show(run)
            self._publish()
        except Exception:  # thread boundary: log; the job itself is unaffected
            log.exception("following job %s failed", run.job.job_id)
        finally:
            run.ended.set()

    def _on_select(self, change: dict[str, Any]) -> None:
        index = change.get("new")
        if not self._relabelling and isinstance(index, int) and 0 <= index < len(self.runs) and (
                self.runs[index] is not self.shown):
            self._guard(self._show, self.runs[index])

    # -- views -------------------------------------------------------------------------

    def _show(self, run: PanelRun) -> None:
        with self._lock:
            self.shown = run
            self.progress_box.children = (run.bar.bar, run.bar.label)
            self.cancel_button.disabled = run.finished or run.job.done()
            self.cancel_button.description = "Cancel"
            self.cancel_button.button_style = "" if self.cancel_button.disabled else "warning"
            if run.error is not None:
                kind, _, text = run.error.partition(": ")
                self.message.value = error_html(kind, text)
            else:
                self.message.value = ""
            index = self.runs.index(run)
            if self.jobs.value != index and index < len(self.jobs.options):
                self.jobs.value = index
            self.show_page(0)

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0) of the shown result, clamped to the pages there are."""
        with self._lock:
            result = self.shown.result if self.shown is not None else None
            if result is None:
                self.table.value = ""
                self.page_label.value = ""
                self.prev_button.disabled = self.next_button.disabled = True
                return
            size = int(self.page_size.value)
            pages = max(1, -(-len(result) // size))
            self.page = max(0, min(page, pages - 1))
            start, stop = self.page * size, min(len(result), (self.page + 1) * size)
            self.table.value = page_html(result, start, stop)
            self.page_label.value = self._page_words(result, start, stop)
            self.prev_button.disabled = self.page == 0
            self.next_button.disabled = self.page >= pages - 1

    @staticmethod
    def _page_words(result: Table, start: int, stop: int) -> str:
        if len(result) == 0:
            return "no rows"
        cut = " (truncated: more rows match)" if result.meta.get("overflow") else ""
        return f"rows {start + 1:,}–{stop:,} of {len(result):,}{cut}"

    def _refresh_jobs(self) -> None:
        with self._lock:
            shown = self.runs.index(self.shown) if self.shown in self.runs else None
            options = [(run.label(), i) for i, run in enumerate(self.runs)]
            if options == list(self.jobs.options) and self.jobs.value == shown:
                return
            # New options reset the selection to the first job: that is not the user's pick.
            self._relabelling = True
            try:
                self.jobs.options = options
                if shown is not None and self.jobs.value != shown:
                    self.jobs.value = shown
            finally:
                self._relabelling = False

    @property
    def page_range(self) -> tuple[int, int]:
        """``(start, stop)`` rows of the shown page; ``(0, 0)`` without a result."""
        result = self.shown.result if self.shown is not None else None
        if result is None:
            return 0, 0
        size = int(self.page_size.value)
        return self.page * size, min(len(result), (self.page + 1) * size)

    # -- text and HTML fallbacks -------------------------------------------------------

    @property
    def summary(self) -> str:
        """What the panel shows, as text: the query, the shown job, its page, the jobs."""
        lines = [f"Query panel on {self.catalog!r}: {plural(len(self.runs), 'job')}"]
        run = self.shown
        if run is not None:
            lines.append(f"ADQL: {run.job.adql}")
            lines.append(f"Job {run.job.job_id} {run.job.progress.summary()}")
            if run.error is not None:
                lines.append(run.error)
            elif run.result is not None:
                start, stop = self.page_range
                lines.append(self._page_words(run.result, start, stop))
                if stop > start:
                    lines.append(page_text(run.result, start, stop))
        return "\n".join(lines)

    def _html(self) -> str:
        parts = [f"<div class='qsa-query-panel'><b>Query panel</b> on "
                 f"{escape(repr(self.catalog))}"]
        run = self.shown
        if run is not None:
            parts.append(f"<pre>{escape(run.job.adql)}</pre>")
            parts.append(progress_html(run.job.progress, run.job.job_id))
            if run.error is not None:
                kind, _, text = run.error.partition(": ")
                parts.append(error_html(kind, text))
            elif run.result is not None:
                start, stop = self.page_range
                parts.append(f"<div>{escape(self._page_words(run.result, start, stop))}</div>")
                parts.append(page_html(run.result, start, stop))
        if self.runs:
            items = "".join(f"<li>{escape(r.label())}</li>" for r in self.runs)
            parts.append(f"<div>Jobs:<ul>{items}</ul></div>")
        return "".join(parts) + "</div>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        widget_bundle = getattr(self.widget, "_repr_mimebundle_", None)
        if widget_bundle is not None:
            bundle.update(widget_bundle() or {})
        bundle["text/plain"] = self.summary
        bundle["text/html"] = self._html()
        return bundle

    def _ipython_display_(self) -> None:
        from uuid import uuid4

        from IPython.display import display

        self._display_id = self._display_id or uuid4().hex
        display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)

    def _publish(self) -> None:
        """Replace the displayed text and HTML summaries by the current ones."""
        if self._display_id is None:
            return
        from IPython.display import update_display

        update_display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the shown job's result or error is in the panel; True if it is."""
        run = self.shown
        return run is None or run.ended.wait(timeout_s)

    def __repr__(self) -> str:
        return f"<QueryPanel {plural(len(self.runs), 'job')}>"


def query_panel(catalog: Catalog, adql: str | None = None, *, page_size: int = 20,
                maxrec: int | None = None) -> QueryPanel:
    """Return a query panel on ``catalog``; display it as a cell's last expression.

    Type ADQL, press Run: the query runs as a job (the notebook stays free), with its
    chunks done, rows and elapsed time; Cancel stops it. The result shows a page at a
    time with units under the column names; an error shows its message. Each job run
    from the panel stays in its job list: select one to show its result again.

    Parameters
    ----------
    catalog
        What ``qserv_access.connect`` returned (embedded or a TAP service).
    adql
        Initial text of the editor.
    page_size
        Rows per page.
    maxrec
        Row limit of each job (default: the catalog's).

    Returns
    -------
    QueryPanel
        The panel; ``panel.run()`` does what the Run button does.

    Raises
    ------
    MissingExtraError
        ipywidgets is not installed (the ``notebook`` extra).
    """
    return QueryPanel(catalog, adql, page_size=page_size, maxrec=maxrec)
