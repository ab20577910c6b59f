"""The user of a token's `sub`, read with one precompiled query on every authenticated request.

Building the ORM query "the user whose Auth0Identity has this sub" costs far more than running it:
Django compiles the SELECT, the JOIN and the WHERE anew for every request, which made the user
lookup most of the cost of a request with an already verified token. Here the ORM's own SQL is
compiled once per database alias; each request runs it with its `sub` and builds the user from the
row with the converters the ORM would apply (the way `QuerySet.raw()` does).

Nothing about the user is cached: every request reads the current row, so a user deactivated (or
changed) in the admin is seen on the very next request, in every worker.

The fast path uses ORM compiler internals (`SQLCompiler.select`, `get_converters`,
`apply_converters`), which Django does not promise to keep. They are tried once per database alias,
on a row of NULLs, when the query is compiled; if anything there is missing or behaves differently
(a Django release changed them), the lookup falls back to the plain ORM query for good, with one
warning in the log. Both give the same user (tests/test_user_lookup.py proves it on every Django
the test matrix covers).
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connections, router
from django.dispatch import receiver

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.expressions import Expression
    from django.db.models.sql.compiler import SQLCompiler

    # Column index -> (converters, expression), as SQLCompiler.get_converters returns them.
    Converters = dict[int, tuple[list[Callable[..., Any]], Expression]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledUserQuery:
    """SQL selecting every concrete field of the user model, with the `sub` as its only
    parameter, and the column expressions in select order (for from_db and converters)."""

    sql: str
    field_names: tuple[str, ...]
    columns: tuple[Any, ...]


def _compile_user_query(alias: str) -> CompiledUserQuery:
    User = get_user_model()
    query = User._base_manager.filter(auth0_identity__sub="").query
    compiler = query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    if len(params) != 1:
        raise RuntimeError("the user lookup query must have exactly one parameter")
    columns = tuple(expression for expression, _sql, _alias in compiler.select)
    compiled = CompiledUserQuery(
        sql=sql,
        field_names=tuple(column.target.attname for column in columns),
        columns=columns,
    )
    concrete = [field.attname for field in User._meta.concrete_fields]
    if sorted(compiled.field_names) != sorted(concrete):
        raise RuntimeError("the compiled query does not select every concrete field of the user")
    # The converter internals, tried once on a row of NULLs (no database round trip).
    converter_compiler, converters = _converters(connections[alias], alias, compiled)
    if converters:
        [row] = list(converter_compiler.apply_converters([[None] * len(columns)], converters))
        if len(row) != len(columns):
            raise RuntimeError("apply_converters changed the row's length")
    return compiled


@functools.cache
def compiled_user_query(alias: str) -> CompiledUserQuery | None:
    """The user-by-sub query, compiled by the ORM for database `alias` (once per process); None
    when this Django's compiler internals do not work as expected (then the ORM query is used)."""
    try:
        return _compile_user_query(alias)
    except Exception as exc:  # noqa: BLE001 - any surprise in the internals means: do not use them
        logger.warning(
            "User lookup: the precompiled query is unavailable on this Django (%s: %s); "
            "using the ORM query instead",
            type(exc).__name__,
            exc,
        )
        return None


def orm_user_for_subject(sub: str) -> AbstractBaseUser | None:
    """The user linked to `sub` through the plain ORM query (the fallback); None if none."""
    User = get_user_model()
    try:
        return User._base_manager.get(auth0_identity__sub=sub)
    except User.DoesNotExist:
        return None


def find_user_for_subject(sub: str) -> AbstractBaseUser | None:
    """The user linked to `sub`, read from the database now; None if there is none."""
    User = get_user_model()
    alias = router.db_for_read(User)
    query = compiled_user_query(alias)
    if query is None:
        return orm_user_for_subject(sub)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [sub])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    compiler, converters = _converters(connection, alias, query)
    if converters:
        values = next(compiler.apply_converters([values], converters))
    return User.from_db(alias, query.field_names, values)


_per_thread = threading.local()


def _converters(
    connection: BaseDatabaseWrapper, alias: str, query: CompiledUserQuery
) -> tuple[SQLCompiler, Converters]:
    """The ORM's value converters for the query's columns on this thread's connection."""
    cached = getattr(_per_thread, "converters", None)
    if cached is None:
        cached = _per_thread.converters = {}
    entry = cached.get(alias)
    if entry is None or entry[0] is not connection or entry[1] is not query:
        # No query: this compiler only converts values, which needs the connection alone.
        compiler = connection.ops.compiler("SQLCompiler")(None, connection, alias)  # type: ignore[arg-type]
        entry = (connection, query, compiler, compiler.get_converters(list(query.columns)))
        cached[alias] = entry
    return entry[2], entry[3]


@receiver(setting_changed)
def forget_compiled_queries(*, setting: str, **kwargs: Any) -> None:
    if setting in ("AUTH_USER_MODEL", "DATABASES", "DATABASE_ROUTERS"):
        compiled_user_query.cache_clear()
