"""Plan shapes: one module per way of cutting a query into chunk tasks.

Each shape is a function ``(Analysis, ChunkChooser) -> QueryPlan | str``: a plan, or the
reason the query is not of its shape. :data:`engine.planning.SHAPES` tries them in order;
:func:`~engine.planning.shapes.single.plan_single` runs what none of them takes.
"""
