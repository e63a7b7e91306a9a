"""ADQL 2.1: parse (:mod:`.parse`), validate, translate to DuckDB (:mod:`.translate`), emit."""
