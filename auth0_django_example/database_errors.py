"""A database that cannot answer is a 503, wherever the request meets it; a database bug is a 500.

The token user's lookup already answers 503 `database_unavailable` (auth0_jwt); this module gives
every other place the same answer, `{"detail": "The service's database is unavailable. Try again
shortly."}` with `Retry-After: 5`:

- `exception_handler`: the DRF exception handler of this service, around the package's own (which
  adds the RFC 6750 challenges): DRF views, e.g. a customer insert cut off by a restarting server;
- `DatabaseUnavailableMiddleware.process_exception`: any other view (the admin, plain Django views);
- `server_error` and `bad_request`, the root URLconf's `handler500` and `handler400`: errors raised
  by a middleware, which Django turns into a response before any outer middleware sees them. The
  session middleware saves the session after the view; when the database refuses that update,
  Django raises SessionInterrupted, a 400 that blames the client for the database's outage, and
  `bad_request` answers 503 for it. While DEBUG is on, Django shows its debug pages instead.

"Unavailable" means the database could not be reached or could not serve this request right now,
so the same request may succeed later: a lost or refused connection, a server shutting down or
starting up, too many connections, a lock or statement timeout, a deadlock or serialization
failure, a locked or unopenable SQLite file. A query the database refuses (ProgrammingError, an
IntegrityError no service handled, SQLite's "no such table") is a bug: it stays a 500 with its
traceback in the log. The transaction of the request's write was rolled back either way: a 503
stored nothing.
"""

import logging
import sys

from django.db import Error, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults

from auth0_jwt.authenticator import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, AuthError
from auth0_jwt.exceptions import DatabaseUnavailable
from auth0_jwt.exceptions import exception_handler as auth0_exception_handler

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATE classes and codes of a server that cannot serve the request right now:
# 08 connection exception, 40 transaction rollback (serialization failure, deadlock), 53
# insufficient resources (too many connections, disk full), 57 operator intervention (shutting
# down, starting up, query cancelled), 58 system error (I/O); 55P03 lock not available.
POSTGRESQL_UNAVAILABLE_CLASSES = ("08", "40", "53", "57", "58")
POSTGRESQL_UNAVAILABLE_CODES = ("55P03",)
# SQLite result codes (primary; extended codes add a suffix, e.g. SQLITE_IOERR_WRITE) of a file
# that cannot be opened, is locked by another writer, or cannot be read or written.
SQLITE_UNAVAILABLE_CODES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot answer right now (retry later), not that the query
    is wrong."""
    if not isinstance(exc, Error):
        return False
    if isinstance(exc, InterfaceError):  # the connection is closed or unusable
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__  # the driver's own error (Django's DatabaseErrorWrapper chains it)
    if cause is None:
        return False
    sqlite_code = getattr(cause, "sqlite_errorname", None)
    if sqlite_code is not None:
        return sqlite_code.startswith(SQLITE_UNAVAILABLE_CODES)
    if type(cause).__module__.startswith("sqlite3"):  # no result code: judged by its message
        return "locked" in str(cause) or "unable to open" in str(cause)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:  # no answer from a server at all (refused, reset, timed out)
        return True
    return (
        sqlstate[:2] in POSTGRESQL_UNAVAILABLE_CLASSES or sqlstate in POSTGRESQL_UNAVAILABLE_CODES
    )


def database_outage_in(exc: BaseException | None) -> BaseException | None:
    """The database outage `exc` is, or was raised while handling (its cause or context)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if is_database_unavailable(exc):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def log_unavailable(exc: BaseException, request) -> None:
    """One line, no traceback: the outage is the database's, not a bug of this service."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    logger.warning(
        "Database unavailable: %s: %s (answered 503)",
        type(exc).__name__,
        reason,
        extra={
            "event": "database_unavailable",
            "method": getattr(request, "method", None),
            "path": getattr(request, "path", None),
        },
    )


def unavailable_response() -> JsonResponse:
    """The 503 every database outage gets, as the authentication's own."""
    return JsonResponse(
        {"detail": DATABASE_UNAVAILABLE}, status=503, headers={"Retry-After": RETRY_AFTER_SECONDS}
    )


def exception_handler(exc, context):
    """The package's DRF exception handler, with database outages answered as 503."""
    if is_database_unavailable(exc):
        log_unavailable(exc, context.get("request"))
        unavailable = DatabaseUnavailable(DATABASE_UNAVAILABLE)
        unavailable.auth_error = AuthError(
            "database_unavailable", DATABASE_UNAVAILABLE, {"Retry-After": RETRY_AFTER_SECONDS}
        )
        exc = unavailable
    return auth0_exception_handler(exc, context)


class DatabaseUnavailableMiddleware:
    """Answers 503 for a view that met a database outage (any other error is left to Django)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        log_unavailable(exception, request)
        return unavailable_response()


def server_error(request, *args, **kwargs):
    """`handler500`: 503 for a database outage raised outside a view (a middleware), Django's own
    500 page for anything else."""
    outage = database_outage_in(sys.exc_info()[1])
    if outage is None:
        return defaults.server_error(request, *args, **kwargs)
    return _logged_unavailable_response(outage, request)


def bad_request(request, exception, *args, **kwargs):
    """`handler400`: 503 for a 400 raised because of a database outage (the session middleware's
    SessionInterrupted when the session update fails), Django's own 400 page for anything else."""
    outage = database_outage_in(exception)
    if outage is None:
        return defaults.bad_request(request, exception, *args, **kwargs)
    return _logged_unavailable_response(outage, request)


def _logged_unavailable_response(outage: BaseException, request) -> JsonResponse:
    log_unavailable(outage, request)
    response = unavailable_response()
    # Django logs the error behind every response it builds from an exception, traceback included,
    # unless the response says it has been logged (django.utils.log.log_response): it has.
    response._has_been_logged = True
    return response
