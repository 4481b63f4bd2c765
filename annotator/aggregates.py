"""Aggregates the ORM lacks, for both databases the project runs on."""

from __future__ import annotations

import statistics

from django.db.models import Aggregate, FloatField


class Median(Aggregate):
    """The median of a column: `percentile_cont(0.5)` on PostgreSQL; on SQLite, which has no
    such function, a MEDIAN aggregate registered on each connection (`sqlite_functions_add`)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    output_field = FloatField()
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            function="MEDIAN",
            template="%(function)s(%(expressions)s)",
            **extra_context,
        )


class _SQLiteMedian:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def sqlite_functions_add(sender: object, connection: object, **kwargs: object) -> None:
    """Register the aggregates above on a new SQLite connection (a `connection_created`
    receiver); other databases have them built in."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, _SQLiteMedian)
