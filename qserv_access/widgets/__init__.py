"""Optional notebook helpers: a job progress bar with Cancel, a query panel, a schema
browser, sky maps, a cone scatter, an Aladin view (ipyaladin) and a histogram.

They need the ``notebook`` extra (ipywidgets, matplotlib); importing this package
without it raises an ImportError that says what to install.
"""

from __future__ import annotations

from qserv_access.widgets.aladin import AladinView, aladin_view
from qserv_access.widgets.cone_plot import plot_cone
from qserv_access.widgets.plots import plot_density, plot_histogram, plot_sky
from qserv_access.widgets.progress import JobProgressBar, watch
from qserv_access.widgets.query_panel import QueryPanel, query_panel
from qserv_access.widgets.schema import SchemaBrowser, schema_browser

__all__ = ["AladinView", "JobProgressBar", "QueryPanel", "SchemaBrowser", "aladin_view",
           "plot_cone", "plot_density", "plot_histogram", "plot_sky", "query_panel",
           "schema_browser", "watch"]
