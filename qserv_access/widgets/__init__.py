"""Optional notebook helpers: a job progress bar with Cancel, a query panel, a schema
browser, sky maps, a cone scatter and a histogram.

They need the ``notebook`` extra (ipywidgets, matplotlib); importing this package
without it raises an ImportError that says what to install.
"""

from __future__ import annotations

from qserv_access.widgets.plots import plot_density, plot_histogram, plot_sky
from qserv_access.widgets.progress import JobProgressBar, watch
from qserv_access.widgets.query_panel import QueryPanel, query_panel
from qserv_access.widgets.schema import SchemaBrowser, schema_browser

__all__ = ["JobProgressBar", "QueryPanel", "SchemaBrowser", "plot_density", "plot_histogram",
           "plot_sky", "query_panel", "schema_browser", "watch"]
