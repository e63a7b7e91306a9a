"""A progress bar for a ``Job``: chunks done, rows, elapsed time and a Cancel button.

Displayed in Jupyter it is an ipywidgets bar; every display also carries a plain-text and
an HTML summary (phase, chunks, rows, elapsed), so a notebook read where widgets do not
run (a code forge, nbviewer, an unrun notebook) shows what happened, not ``HBox(...)``.
When the job finishes, the displayed summary is replaced by the final one.
"""

from __future__ import annotations

import logging
import threading
from html import escape
from typing import TYPE_CHECKING, Any

from qserv_access.widgets._extra import require

if TYPE_CHECKING:
    from qserv_access.jobs import Job, JobProgress

__all__ = ["JobProgressBar", "progress_html", "watch"]

log = logging.getLogger(__name__)

REFRESH_S = 0.2
"""Seconds between two refreshes of the bar: smooth enough, cheap for a remote job."""

_STYLES = {"COMPLETED": "success", "ERROR": "danger", "ABORTED": "warning"}
_HTML_COLOURS = {"COMPLETED": "#2e7d32", "ERROR": "#c62828", "ABORTED": "#ef6c00"}


def progress_html(progress: JobProgress, job_id: str) -> str:
    """Return an HTML summary of a job's progress (a bar and one line of text)."""
    phase = str(progress.phase)
    value = 1.0 if progress.phase.finished else (progress.fraction or 0.0)
    colour = _HTML_COLOURS.get(phase, "#1976d2")
    return (f'<div class="qsa-job-progress" style="font-family: sans-serif">'
            f'<progress value="{value:.3f}" max="1" style="width: 16em"></progress> '
            f'<b style="color: {colour}">{escape(phase)}</b> '
            f"{escape(progress.summary().split(': ', 1)[1])} "
            f'<span style="color: #777">(job {escape(job_id)})</span></div>')


class JobProgressBar:
    """Follow a job on a thread: phase, chunks done of total, rows, elapsed time, Cancel.

    Parameters
    ----------
    job
        The job to follow (``catalog.submit(...)``).
    """

    def __init__(self, job: Job) -> None:
        widgets = require("ipywidgets", "Widgets")
        self.job = job
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="QUEUED",
                                         bar_style="info")
        self.label = widgets.Label(value="")
        self.button = widgets.Button(description="Cancel", button_style="warning",
                                     icon="stop", tooltip="Cancel the job's chunk tasks")
        self.button.on_click(self._on_cancel)
        self.widget = widgets.HBox([self.bar, self.label, self.button])
        self.widget.add_class("qsa-job-bar")  # what a browser test or a stylesheet finds
        self._display_id: str | None = None
        self._stop = threading.Event()
        self._last: JobProgress | None = None
        self.refresh()
        self._thread = threading.Thread(target=self._follow, daemon=True,
                                        name=f"progress-{job.job_id}")
        self._thread.start()

    def _on_cancel(self, _button: object) -> None:
        try:
            self.button.disabled = True
            self.button.description = "Cancelling"
            self.job.cancel()
            self.refresh()
        except Exception:  # widget callback boundary: log, never crash the kernel's comm
            log.exception("cancelling job %s failed", self.job.job_id)

    def refresh(self) -> bool:
        """Update the widgets from the job; return True once the job has finished."""
        p = self.job.progress
        self._last = p
        self.bar.description = str(p.phase)
        if p.fraction is not None:
            self.bar.value = p.fraction
        elif not p.phase.finished:
            # Unknown share: sweep so that the bar shows the job is alive.
            self.bar.value = (p.elapsed_s / 4.0) % 1.0
        self.label.value = p.summary().split(": ", 1)[1]
        if p.phase.finished:
            self.bar.value = 1.0
            self.bar.bar_style = _STYLES.get(str(p.phase), "")
            # A finished job has nothing to cancel: grey the button, say why.
            self.button.disabled = True
            self.button.button_style = ""
            self.button.icon = ""
            self.button.description = "Cancelled" if str(p.phase) == "ABORTED" else "Done"
            return True
        return False

    def _follow(self) -> None:
        try:
            while not self.refresh():
                # Wakes up as soon as a local job ends; a remote one is polled.
                self.job.wait(REFRESH_S)
                if self._stop.is_set():
                    return
            self._publish_final()
        except Exception:  # thread boundary: log, the job itself is unaffected
            log.exception("following job %s failed", self.job.job_id)

    def _publish_final(self) -> None:
        """Replace the displayed text and HTML summaries by the final ones."""
        if self._display_id is None:
            return
        from IPython.display import update_display

        update_display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)

    def close(self) -> None:
        """Stop refreshing (the job keeps running)."""
        self._stop.set()

    @property
    def summary(self) -> str:
        """The progress as one line of text."""
        p = self._last or self.job.progress
        return f"Job {self.job.job_id} {p.summary()}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        p = self._last or self.job.progress
        bundle: dict[str, Any] = {}
        widget_bundle = getattr(self.widget, "_repr_mimebundle_", None)
        if widget_bundle is not None:
            bundle.update(widget_bundle() or {})
        bundle["text/plain"] = self.summary
        bundle["text/html"] = progress_html(p, self.job.job_id)
        return bundle

    def _ipython_display_(self) -> None:
        from uuid import uuid4

        from IPython.display import display

        self._display_id = self._display_id or uuid4().hex
        display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)

    def __repr__(self) -> str:
        return f"<JobProgressBar {self.summary}>"


def watch(job: Job) -> JobProgressBar:
    """Return a progress bar for ``job``; display it as a cell's last expression.

    The bar shows the chunks done of the chunks the query reads, rows so far and the
    elapsed time; its Cancel button cancels the job's chunk tasks.
    """
    return JobProgressBar(job)
