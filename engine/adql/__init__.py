"""ADQL 2.1 language layer: parse, validate, translate to DuckDB, emit ADQL.

Public entry points (pure functions, no I/O)::

    from engine.adql.parse import parse_adql          # str -> exp.Query (ADQL tree)
    from engine.adql.translate import to_duckdb       # ADQL tree -> DuckDB tree
    from engine.adql.translate import geometry_xtype  # select item -> DALI xtype or None
    from engine.adql.emit import to_adql              # ADQL tree -> ADQL text
    from engine.adql.analyze import table_refs        # ADQL tree -> [exp.Table]
    from engine.adql.geometry import GEOMETRY_MACROS  # CREATE MACRO statements, once per connection
    from engine.adql import nodes                     # Point, Circle, Box, Polygon, Contains, ...

Tables stay ``exp.Table`` (``db`` = schema) and columns ``exp.Column`` in both trees, for the
planner to rewrite. ``IN_UNIT`` is resolved by ``to_duckdb(tree, units=lookup)``.
"""
