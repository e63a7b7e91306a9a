"""The ingest entry points share one typed set of keyword options and refuse others."""

from __future__ import annotations

import pytest

from engine.catalog import read_table
from engine.ingest.api import ingest_batches, ingest_files
from engine.ingest.preflight import check_inputs
from engine.ingest.synthetic import synthetic_source


@pytest.mark.parametrize("call", [
    lambda d: ingest_files(d, "sim.obj", ["x.parquet"], ra="ra", dec="dec", margin_arcsecs=5.0),
    lambda d: ingest_batches(d, "sim.obj", synthetic_source(10), ra="ra", dec="dec",
                             margin_arcsecs=5.0),
    lambda d: check_inputs(d, "sim.obj", ["x.parquet"], ra="ra", dec="dec", margin_arcsecs=5.0),
])
def test_an_unknown_keyword_is_refused_with_a_suggestion_before_any_work(tmp_path, call):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'margin_arcsecs'\. "
                                        r"Did you mean 'margin_arcsec'\?"):
        call(tmp_path)
    assert read_table(tmp_path, "sim.obj") is None


def test_check_inputs_refuses_run_options_it_has_no_use_for(tmp_path):
    with pytest.raises(TypeError, match=r"check_inputs.*'workers'"):
        check_inputs(tmp_path, "sim.obj", ["x.parquet"], ra="ra", dec="dec", workers=2)
