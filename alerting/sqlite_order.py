"""ORDER BY and keyset clauses for the SQLite store, from a sort's (column, descending) list.

A page that continues "after the last item seen" must skip exactly the rows before that
item in the order, whatever arrives in between: rows compare on the sort columns in turn,
``(a, b, id) > (x, y, z)`` spelled out with each column's direction. Every value is a bound
parameter; only the column names (fixed by the store, never from a request) are spliced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Columns = Sequence[tuple[str, bool]]


def order_by(columns: Columns) -> str:
    return "ORDER BY " + ", ".join(f"{c} {'DESC' if desc else 'ASC'}" for c, desc in columns)


def after_clause(columns: Columns, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in the order of ``columns``."""
    ors: list[str] = []
    args: list[Any] = []
    for i, (column, desc) in enumerate(columns):
        ands = [f"{c} = ?" for c, _ in columns[:i]]
        ands.append(f"{column} {'<' if desc else '>'} ?")
        ors.append("(" + " AND ".join(ands) + ")")
        args.extend(values[:i])
        args.append(values[i])
    return "(" + " OR ".join(ors) + ")", args
