"""Split one SELECT block into a per-chunk partial query and a merge query.

The partial runs on every chunk task; the merge runs once over the union of the
partials (a table named ``__partials``), so that ``merge(partials(chunks))`` equals
the query on the unsharded data. Aggregates become partial aggregates combined
exactly (COUNT, SUM, MIN, MAX, AVG, variances); ORDER BY + TOP are pushed down and
redone at the merge; DISTINCT, GROUP BY, HAVING and OFFSET are finished at the merge.
Anything else returns None and the caller runs the query as one task.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

PARTIALS = "__partials"
"""Name under which the merge query sees the concatenated partial results."""

_SIMPLE_AGGS = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)
_VARIANCE_AGGS = (exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance, exp.VariancePop)


@dataclass(frozen=True, slots=True)
class SplitQuery:
    """A partial query for each chunk and the query that merges their results."""

    partial: exp.Select
    merge: exp.Select | None
    """None when the partials only need concatenating (streamed, no merge step)."""
    limit: int | None
    """Rows each partial may stop after (TOP pushed down), None for all."""
    row_limit: int | None = None
    """Rows the concatenated partials are cut to when there is no merge query (TOP)."""


def column(name: str) -> exp.Column:
    """Return an unqualified column reference."""
    return exp.column(name, quoted=True)


def _int_literal(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Limit | exp.Offset):
        node = node.expression
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def output_name(item: exp.Expr, index: int) -> str:
    """Return the name a select item gets in the result."""
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column) and not isinstance(item.this, exp.Star):
        return item.name
    if isinstance(item, exp.Func):
        return (item.sql_name() or f"col{index}").lower()
    return f"col{index}"


def name_outputs(select: exp.Select) -> None:
    """Give every unaliased expression in the select list a stable, unique alias (in place)."""
    seen: dict[str, int] = {}
    items = []
    for i, item in enumerate(select.expressions):
        if isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            items.append(item)
            continue
        name = output_name(item, i)
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            name = f"{name}_{seen[key]}"
        needs_alias = not isinstance(item, exp.Alias) and (
            not isinstance(item, exp.Column) or seen[key] > 1
        )
        if needs_alias or (isinstance(item, exp.Alias) and seen[key] > 1):
            base = item.this if isinstance(item, exp.Alias) else item
            item = exp.alias_(base, name, quoted=True)
        items.append(item)
    select.set("expressions", items)


def has_star(select: exp.Select) -> bool:
    """Return whether the select list still holds ``*`` or ``t.*``."""
    return any(
        isinstance(i, exp.Star) or (isinstance(i, exp.Column) and isinstance(i.this, exp.Star))
        for i in select.expressions
    )


def _aggregates(node: exp.Expr) -> list[exp.AggFunc]:
    return [a for a in node.find_all(exp.AggFunc) if not a.find_ancestor(exp.Subquery)]


UNSPLITTABLE = ("its aggregates, DISTINCT or ordering cannot be merged from per-chunk "
                "partial results")
"""Why a shape falls back when :func:`split_select` gives None."""


def split_select(select: exp.Select, *, maxrec: int | None) -> SplitQuery | None:
    """Split ``select`` (one block, tables already bound) into partial + merge, or None."""
    if select.args.get("with_") or select.args.get("windows"):
        return None
    aggs = [a for part in (*select.expressions, select.args.get("having"),
                           select.args.get("order")) if part is not None
            for a in _aggregates(part)]
    if select.args.get("group") or aggs:
        return _split_aggregate(select, aggs)
    return _split_rows(select, maxrec=maxrec)


def _order_keys(select: exp.Select, names: list[str]) -> tuple[list[exp.Expr],
                                                               list[exp.Ordered]] | None:
    """Return hidden key expressions for the partial and ORDER BY items for the merge."""
    order = select.args.get("order")
    hidden: list[exp.Expr] = []
    merged: list[exp.Ordered] = []
    if order is None:
        return hidden, merged
    lowered = [n.lower() for n in names]
    for ordered in order.expressions:
        key = ordered.this
        position = _int_literal(key)
        if position is not None:
            if not 1 <= position <= len(names):
                return None
            target: exp.Expr = column(names[position - 1])
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in lowered:
            target = column(names[lowered.index(key.name.lower())])
        else:
            alias = f"__o{len(hidden)}"
            hidden.append(exp.alias_(key.copy(), alias, quoted=True))
            target = column(alias)
        merged.append(exp.Ordered(this=target, desc=ordered.args.get("desc"),
                                  nulls_first=ordered.args.get("nulls_first")))
    return hidden, merged


def _split_rows(select: exp.Select, *, maxrec: int | None) -> SplitQuery | None:
    top = _int_literal(select.args.get("limit"))
    offset = _int_literal(select.args.get("offset")) or 0
    if select.args.get("limit") is not None and top is None:
        return None
    distinct = select.args.get("distinct") is not None
    ordered = select.args.get("order") is not None
    if not distinct and not ordered and offset == 0:
        cap = min(x for x in (top, None if maxrec is None else maxrec + 1, 1 << 62)
                  if x is not None)
        partial = select.copy()
        if cap < 1 << 62:
            partial.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return SplitQuery(partial=partial, merge=None, limit=cap if cap < 1 << 62 else None,
                          row_limit=top)
    if has_star(select) and (ordered or distinct):
        # Positional names of a star expansion are unknown here; the caller expands stars.
        return None
    names = [output_name(item, i) for i, item in enumerate(select.expressions)]
    keys = _order_keys(select, names)
    if keys is None or (distinct and keys[0]):
        return None
    hidden, merged_order = keys
    partial = select.copy()
    partial.set("expressions", [*partial.expressions, *hidden])
    partial.set("offset", None)
    limit = None if top is None else top + offset
    partial.set("limit", None if limit is None else exp.Limit(
        expression=exp.Literal.number(limit)))
    outputs = [column(n) for n in names]
    merge = exp.Select(expressions=outputs).from_(PARTIALS)
    if distinct:
        merge.set("distinct", exp.Distinct())
    if merged_order:
        merge.set("order", exp.Order(expressions=merged_order))
    if top is not None:
        merge.set("limit", exp.Limit(expression=exp.Literal.number(top)))
    if offset:
        merge.set("offset", exp.Offset(expression=exp.Literal.number(offset)))
    return SplitQuery(partial=partial, merge=merge, limit=limit)


@dataclass
class _AggregateRewriter:
    """Collects partial aggregate columns and builds their merge expressions."""

    partial_items: list[exp.Expr]
    group_keys: list[exp.Expr]

    def add(self, expr: exp.Expr) -> exp.Column:
        name = f"__a{len(self.partial_items)}"
        self.partial_items.append(exp.alias_(expr, name, quoted=True))
        return column(name)

    def merge_expr(self, agg: exp.AggFunc) -> exp.Expr | None:
        arg = agg.this
        if isinstance(arg, exp.Distinct):
            # per-chunk DISTINCT does not see duplicates across chunks: not mergeable
            return None
        if isinstance(agg, exp.Count):
            return exp.func("COALESCE", exp.func("SUM", self.add(agg.copy())),
                            exp.Literal.number(0))
        if isinstance(agg, exp.Sum | exp.Min | exp.Max):
            return agg.__class__(this=self.add(agg.copy()))
        if isinstance(agg, exp.Avg):
            total = self.add(exp.Sum(this=arg.copy()))
            count = self.add(exp.Count(this=arg.copy()))
            return exp.Div(
                this=exp.cast(exp.Sum(this=total), "DOUBLE"),
                expression=exp.func("NULLIF", exp.Sum(this=count), exp.Literal.number(0)),
            )
        if isinstance(agg, _VARIANCE_AGGS):
            return self._variance(agg, arg)
        return None

    def _variance(self, agg: exp.AggFunc, arg: exp.Expr) -> exp.Expr:
        n = self.add(exp.Count(this=arg.copy()))
        mean = self.add(exp.Avg(this=arg.copy()))
        m2 = self.add(exp.Mul(this=exp.VariancePop(this=arg.copy()),
                              expression=exp.Count(this=arg.copy())))
        total_n = exp.Sum(this=n)
        weighted = exp.Sum(this=exp.Mul(this=n.copy(), expression=mean.copy()))
        sum_m2 = exp.Sum(this=exp.func("COALESCE", m2.copy(), exp.Literal.number(0)))
        sum_sq = exp.Sum(this=exp.Mul(this=n.copy(), expression=exp.Mul(
            this=mean.copy(), expression=mean.copy())))
        numer = exp.Sub(this=exp.Add(this=sum_m2, expression=sum_sq), expression=exp.Div(
            this=exp.Mul(this=weighted, expression=weighted.copy()), expression=total_n.copy()))
        population = isinstance(agg, exp.StddevPop | exp.VariancePop)
        denom = total_n.copy() if population else exp.Sub(this=total_n.copy(),
                                                           expression=exp.Literal.number(1))
        var = exp.Div(this=exp.func("GREATEST", exp.Paren(this=numer), exp.Literal.number(0)),
                      expression=exp.func("NULLIF", exp.cast(denom, "DOUBLE"),
                                          exp.Literal.number(0)))
        if isinstance(agg, exp.Stddev | exp.StddevSamp | exp.StddevPop):
            return exp.func("SQRT", var)
        return var

    def rewrite(self, node: exp.Expr) -> exp.Expr | None:
        """Return ``node`` over partial columns, or None when it cannot be merged exactly."""
        failed = False

        def visit(sub: exp.Expr) -> exp.Expr:
            nonlocal failed
            for index, key in enumerate(self.group_keys):
                if sub == key:
                    return column(f"__g{index}")
            if isinstance(sub, exp.AggFunc):
                merged = self.merge_expr(sub)
                if merged is None:
                    failed = True
                    return sub
                return merged
            if isinstance(sub, exp.Column) and not isinstance(sub.this, exp.Star):
                failed = True
            return sub

        result = node.copy().transform(visit, copy=False)
        return None if failed else result


def _split_aggregate(select: exp.Select, aggs: list[exp.AggFunc]) -> SplitQuery | None:
    if has_star(select) or any(a.find(exp.Subquery) for a in aggs):
        return None
    group = select.args.get("group")
    keys: list[exp.Expr] = []
    for key in group.expressions if group else []:
        position = _int_literal(key)
        if position is not None:
            if not 1 <= position <= len(select.expressions):
                return None
            item = select.expressions[position - 1]
            key = item.this if isinstance(item, exp.Alias) else item
        elif isinstance(key, exp.Column) and not key.table:
            for item in select.expressions:
                if isinstance(item, exp.Alias) and item.alias.lower() == key.name.lower():
                    key = item.this
        keys.append(key)
    rewriter = _AggregateRewriter(
        partial_items=[exp.alias_(k.copy(), f"__g{i}", quoted=True) for i, k in enumerate(keys)],
        group_keys=keys,
    )
    merge_items: list[exp.Expr] = []
    for i, item in enumerate(select.expressions):
        name = output_name(item, i)
        body = item.this if isinstance(item, exp.Alias) else item
        merged = rewriter.rewrite(body)
        if merged is None:
            return None
        merge_items.append(exp.alias_(merged, name, quoted=True))
    merge = exp.Select(expressions=merge_items).from_(PARTIALS)
    if keys:
        merge.set("group", exp.Group(expressions=[column(f"__g{i}") for i in range(len(keys))]))
    having = select.args.get("having")
    if having is not None:
        merged_having = rewriter.rewrite(having.this)
        if merged_having is None:
            return None
        merge.set("having", exp.Having(this=merged_having))
    order = select.args.get("order")
    if order is not None:
        names = [output_name(item, i) for i, item in enumerate(select.expressions)]
        lowered = [n.lower() for n in names]
        merged_order = []
        for ordered in order.expressions:
            key = ordered.this
            position = _int_literal(key)
            if position is not None:
                target: exp.Expr | None = exp.Literal.number(position)
            elif isinstance(key, exp.Column) and not key.table and key.name.lower() in lowered:
                target = column(names[lowered.index(key.name.lower())])
            else:
                target = rewriter.rewrite(key)
            if target is None:
                return None
            merged_order.append(exp.Ordered(this=target, desc=ordered.args.get("desc"),
                                            nulls_first=ordered.args.get("nulls_first")))
        merge.set("order", exp.Order(expressions=merged_order))
    for part in ("limit", "offset", "distinct"):
        if select.args.get(part) is not None:
            merge.set(part, select.args[part].copy())
    partial = select.copy()
    for part in ("having", "order", "limit", "offset", "distinct"):
        partial.set(part, None)
    partial.set("expressions", rewriter.partial_items)
    if keys:
        partial.set("group", exp.Group(expressions=[k.copy() for k in keys]))
    return SplitQuery(partial=partial, merge=merge, limit=None)
