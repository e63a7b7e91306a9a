"""A progress bar for a ``Job`` with a Cancel button (ipywidgets)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from qserv_access.widgets._extra import require

if TYPE_CHECKING:
    from qserv_access.jobs import Job

__all__ = ["JobProgressBar", "watch"]

log = logging.getLogger(__name__)

REFRESH_S = 0.2
"""Seconds between two refreshes of the bar: smooth enough, cheap for a remote job."""

_STYLES = {"COMPLETED": "success", "ERROR": "danger", "ABORTED": "warning"}


class JobProgressBar:
    """Show a job's phase, rows and elapsed time, refreshed on a thread, with Cancel.

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
                                     icon="stop")
        self.button.on_click(self._on_cancel)
        self.widget = widgets.HBox([self.bar, self.label, self.button])
        self._stop = threading.Event()
        self.refresh()
        self._thread = threading.Thread(target=self._follow, daemon=True,
                                        name=f"progress-{job.job_id}")
        self._thread.start()

    def _on_cancel(self, _button: object) -> None:
        try:
            self.job.cancel()
            self.button.disabled = True
        except Exception:  # widget callback boundary: log, never crash the kernel's comm
            log.exception("cancelling job %s failed", self.job.job_id)

    def refresh(self) -> bool:
        """Update the widgets from the job; return True once the job has finished."""
        p = self.job.progress
        self.bar.description = str(p.phase)
        if p.fraction is not None:
            self.bar.value = p.fraction
        elif not p.phase.finished:
            # Unknown share: sweep so that the bar shows the job is alive.
            self.bar.value = (p.elapsed_s / 4.0) % 1.0
        rows = "" if p.rows is None else f"{p.rows:,} rows, "
        self.label.value = f"{rows}{p.elapsed_s:.1f} s"
        if p.phase.finished:
            self.bar.value = 1.0
            self.bar.bar_style = _STYLES.get(str(p.phase), "")
            self.button.disabled = True
            return True
        return False

    def _follow(self) -> None:
        try:
            while not self.refresh():
                if self._stop.wait(REFRESH_S):
                    return
        except Exception:  # thread boundary: log, the job itself is unaffected
            log.exception("following job %s failed", self.job.job_id)

    def close(self) -> None:
        """Stop refreshing (the job keeps running)."""
        self._stop.set()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def watch(job: Job) -> JobProgressBar:
    """Return a progress bar for ``job``; display it as a cell's last expression."""
    return JobProgressBar(job)
