"""Optional notebook helpers: a job progress bar with Cancel, sky maps and a histogram.

They need the ``notebook`` extra (ipywidgets, matplotlib); importing this package
without it raises an ImportError that says what to install.
"""

from __future__ import annotations

from qserv_access.widgets.plots import plot_density, plot_histogram, plot_sky
from qserv_access.widgets.progress import JobProgressBar, watch

__all__ = ["JobProgressBar", "plot_density", "plot_histogram", "plot_sky", "watch"]
