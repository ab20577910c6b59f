"""A database that cannot answer is a 503 with Retry-After wherever a request meets it (a DRF view,
a plain Django view, a middleware), with nothing stored; a query the database refuses is a bug and
stays a 500 with its traceback.

The faults are real: another connection holds a lock on the table the request writes (SQLite: a
write transaction, which makes another writer fail with "database is locked"; PostgreSQL: LOCK
TABLE, with a short lock_timeout on this process's connection), or a table is renamed away. The
served test of a PostgreSQL restart in the middle of inserts is test_database_errors_serving.py.
"""

import logging
import sqlite3
from contextlib import contextmanager

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import DisallowedHost
from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError, connection
from rest_framework.test import APIClient

from auth0_django_example.database_errors import (
    DatabaseUnavailableMiddleware,
    bad_request,
    exception_handler,
    is_database_unavailable,
    server_error,
)
from conftest import bearer
from customers.models import Customer

DATABASE_UNAVAILABLE = {"detail": "The service's database is unavailable. Try again shortly."}
SCOPES = "read:customers write:customers"
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}


# --- Which errors are an outage -------------------------------------------------------------------


def wrapped(driver_error: Exception, django_class=OperationalError) -> Exception:
    """`driver_error` as Django raises it: its own class, the driver's error as the cause."""
    try:
        raise django_class(*driver_error.args) from driver_error
    except django_class as exc:
        return exc


def sqlite_error(sql: str, path: str = ":memory:") -> sqlite3.Error:
    """The error SQLite itself raises for `sql` (with its result code)."""
    try:
        with sqlite3.connect(path) as db:
            db.execute(sql)
    except sqlite3.Error as exc:
        return exc
    raise AssertionError(f"{sql!r} did not fail")


def sqlite_busy_error(tmp_path) -> sqlite3.Error:
    """The error of a write whose commit another connection's read transaction holds back."""
    path = str(tmp_path / "locked.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    reader = sqlite3.connect(path, isolation_level=None)
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()
        writer.execute("BEGIN")
        writer.execute("INSERT INTO t VALUES (1)")
        try:
            writer.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            return exc
        raise AssertionError("the commit was not held back")
    finally:
        writer.close()
        reader.close()


def test_sqlite_outages_are_unavailable(tmp_path):
    cannot_open = sqlite_error("SELECT 1", str(tmp_path / "gone" / "db.sqlite3"))
    busy = sqlite_busy_error(tmp_path)
    assert (cannot_open.sqlite_errorname, busy.sqlite_errorname) == (
        "SQLITE_CANTOPEN",
        "SQLITE_BUSY",
    )
    assert is_database_unavailable(wrapped(cannot_open))
    assert is_database_unavailable(wrapped(busy))


def test_sqlite_errors_of_the_query_are_bugs():
    no_table = sqlite_error("SELECT * FROM missing")
    syntax = sqlite_error("SELEKT 1")
    assert str(no_table) == "no such table: missing"
    assert not is_database_unavailable(wrapped(no_table))  # OperationalError too, but a bug
    assert not is_database_unavailable(wrapped(syntax))
    constraint = sqlite_error("CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1), (1)")
    assert not is_database_unavailable(wrapped(constraint, IntegrityError))


@pytest.mark.parametrize(
    "driver_error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),  # no SQLSTATE
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is shutting down"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
    ids=lambda error: type(error).__name__ + ":" + str(error)[:20],
)
def test_postgresql_outages_are_unavailable(driver_error):
    assert is_database_unavailable(wrapped(driver_error))


@pytest.mark.parametrize(
    ("driver_error", "django_class"),
    [
        (psycopg.errors.UndefinedTable('relation "x" does not exist'), ProgrammingError),
        (psycopg.errors.SyntaxError("syntax error at or near"), ProgrammingError),
        (psycopg.errors.UniqueViolation("duplicate key value"), IntegrityError),
        (psycopg.errors.ObjectInUse("database is being accessed by other users"), OperationalError),
    ],
    ids=lambda value: type(value).__name__,
)
def test_postgresql_errors_of_the_query_are_bugs(driver_error, django_class):
    assert not is_database_unavailable(wrapped(driver_error, django_class))


def test_a_closed_connection_is_unavailable_and_other_errors_are_not():
    assert is_database_unavailable(InterfaceError("connection already closed"))
    assert not is_database_unavailable(OperationalError("raised by code, no driver error"))
    assert not is_database_unavailable(ValueError("not a database error"))


# --- Each place a request can meet the outage -----------------------------------------------------


def test_the_drf_exception_handler_answers_503_with_retry_after():
    response = exception_handler(
        wrapped(psycopg.errors.AdminShutdown("terminating connection")), {}
    )
    assert (response.status_code, response.data) == (503, DATABASE_UNAVAILABLE)
    assert response["Retry-After"] == "5"
    # A bug is left to Django (a 500 with its traceback).
    assert exception_handler(wrapped(sqlite_error("SELEKT 1")), {}) is None


def test_the_middleware_answers_503_for_a_view_that_met_an_outage(rf):
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = rf.get("/admin/")
    response = middleware.process_exception(request, InterfaceError("connection already closed"))
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response["Content-Type"] == "application/json"
    assert (
        response.content
        == b'{"detail": "The service\'s database is unavailable. Try again shortly."}'
    )
    assert middleware.process_exception(request, wrapped(sqlite_error("SELEKT 1"))) is None


def test_handler500_answers_503_for_an_outage_and_500_for_anything_else(rf):
    request = rf.get("/admin/")
    try:
        raise InterfaceError("connection already closed")
    except InterfaceError:
        response = server_error(request)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    try:
        raise wrapped(sqlite_error("SELEKT 1"))
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_handler400_answers_503_for_a_session_update_the_database_refused(rf):
    """Django's session middleware turns a failed session update into SessionInterrupted (a
    400 that blames the client); raised while handling an outage, it is the outage's 503."""
    request = rf.get("/admin/")
    try:
        try:
            raise wrapped(sqlite_error("SELECT 1", "/nonexistent/folder/db.sqlite3"))
        except OperationalError:
            raise SessionInterrupted("The request's session was deleted.") from None
    except SessionInterrupted as exc:
        interrupted = exc
    response = bad_request(request, interrupted)
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    refused_host = bad_request(request, DisallowedHost("Invalid HTTP_HOST header"))
    assert refused_host.status_code == 400


# --- End to end, with a real lock -----------------------------------------------------------------


@contextmanager
def writes_held_back(table: str):
    """Another connection holds `table` so that this process's next write to it fails at once."""
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        other = psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname=settings["NAME"],
        )
        other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # reads pass, writes wait
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        return
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    # A writer holding the write lock (in WAL mode, the settings' default, a reader would not
    # hold anyone back): this process's write must wait, and with no busy timeout it fails.
    other.execute("BEGIN IMMEDIATE")
    other.execute(f"SELECT count(*) FROM {table}").fetchone()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()
        timeout_ms = int(connection.settings_dict["OPTIONS"]["timeout"] * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")


@pytest.fixture
def client():
    client = APIClient()
    client.raise_request_exception = False  # a 500 is the answer under test, not an error
    return client


def outage_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "auth0_django_example.database_errors"]


def tracebacks(caplog) -> list[logging.LogRecord]:
    """Records logged with an exception (a traceback in the log)."""
    return [r for r in caplog.records if r.exc_info]


@pytest.mark.django_db(transaction=True)
def test_a_create_cut_off_by_the_database_is_503_and_stores_nothing(client, make_token, caplog):
    headers = bearer(make_token(sub="auth0|writer", scope=SCOPES))
    first = client.post("/api/customers/", ADA, format="json", **headers)  # the user exists now
    assert first.status_code == 201

    with writes_held_back("customers_customer"):
        answer = client.post(
            "/api/customers/", {**ADA, "email": "grace@example.com"}, format="json", **headers
        )
    assert (answer.status_code, answer.json()) == (503, DATABASE_UNAVAILABLE)
    assert answer["Retry-After"] == "5"
    assert not Customer.objects.filter(email="grace@example.com").exists()
    [line] = outage_lines(caplog)
    assert (line.levelname, line.event, line.path) == (
        "WARNING",
        "database_unavailable",
        "/api/customers/",
    )
    assert line.exc_info is None
    assert not tracebacks(caplog)

    again = client.post(
        "/api/customers/", {**ADA, "email": "grace@example.com"}, format="json", **headers
    )
    assert again.status_code == 201
    assert Customer.objects.filter(email="grace@example.com").count() == 1


@pytest.fixture
def staff_session(client):
    """The test client logged in to the admin (its session stored in the database)."""
    staff = get_user_model().objects.create_user("admin", password="unused", is_staff=True)
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


@pytest.mark.django_db(transaction=True)
def test_a_session_save_refused_after_the_view_is_503(staff_session, settings, caplog):
    """The session middleware saves after the view has answered: Django turns its error into a
    response before any other middleware sees it, so handler500 answers."""
    settings.SESSION_SAVE_EVERY_REQUEST = True
    assert staff_session.get("/admin/").status_code == 200

    with writes_held_back("django_session"):
        answer = staff_session.get("/admin/")
    assert (answer.status_code, answer.json()) == (503, DATABASE_UNAVAILABLE)
    assert answer["Retry-After"] == "5"
    assert [line.levelname for line in outage_lines(caplog)] == ["WARNING"]
    assert not tracebacks(caplog)
    assert staff_session.get("/admin/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_admin_login_refused_by_the_database_is_503(client, caplog):
    get_user_model().objects.create_user("admin", password="correct horse", is_staff=True)
    with writes_held_back("django_session"):
        answer = client.post(
            "/admin/login/", {"username": "admin", "password": "correct horse", "next": "/admin/"}
        )
    assert (answer.status_code, answer.json()) == (503, DATABASE_UNAVAILABLE)
    assert answer["Retry-After"] == "5"
    assert not tracebacks(caplog)


@pytest.mark.django_db
def test_a_query_the_database_refuses_is_still_a_500_with_its_traceback(client, make_token, caplog):
    headers = bearer(make_token(sub="auth0|reader", scope=SCOPES))
    assert client.get("/api/customers/", **headers).status_code == 200
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("ALTER TABLE customers_customer RENAME TO customers_customer_away")

    answer = client.get("/api/customers/", **headers)
    assert answer.status_code == 500
    assert "Retry-After" not in answer
    assert not outage_lines(caplog)
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (error.name, error.getMessage()) == (
        "django.request",
        "Internal Server Error: /api/customers/",
    )
    assert error.exc_info[0] in (OperationalError, ProgrammingError)
