"""Deployment checks: the documented production environment passes `check --deploy` with no
warning; missing production variables and bad values stop manage.py (and gunicorn, see
test_serving.py) with one line each; static files not collected stop `check --deploy` and gunicorn
but not `migrate` or `collectstatic`."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from auth0_django_example.checks import (
    STATIC_FILES_NOT_COLLECTED,
    check_production_settings,
    check_static_files_collected,
)
from auth0_django_example.tests.support import (
    PROJECT_DIR,
    PYTHON,
    clean_environment,
    documented_production_environment,
    manage,
)

SECRET_KEY_MISSING = (
    "DJANGO_SECRET_KEY is not set (required with DJANGO_DEBUG off): generate one with "
    'python -c "import secrets; print(secrets.token_urlsafe(50))".'
)
ALLOWED_HOSTS_MISSING = (
    "DJANGO_ALLOWED_HOSTS is not set (required with DJANGO_DEBUG off): list the host names this "
    "service answers to, e.g. api.example.com."
)


def test_check_deploy_is_clean_in_the_documented_production_environment(static_root):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env=clean_environment(
            **documented_production_environment(), DJANGO_STATIC_ROOT=str(static_root)
        ),
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


def test_missing_production_variables_stop_manage_py_with_one_line_each():
    production = documented_production_environment()
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "AUTH0_DOMAIN"):
        production[name] = ""
    result = manage("check", env=clean_environment(**production))
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [
        f"?: (auth0_django_example.E001) {SECRET_KEY_MISSING}",
        f"?: (auth0_django_example.E002) {ALLOWED_HOSTS_MISSING}",
        '?: (auth0_jwt.E001) AUTH0["LOCAL_ISSUER"] is on while DEBUG is off: locally minted '
        'tokens are for development only; set AUTH0["DOMAIN"] and AUTH0["AUDIENCE"] for your '
        "Auth0 tenant and API.",
    ]
    assert "Traceback" not in result.stderr


def test_bad_values_are_named_one_line_each_instead_of_a_traceback():
    production = documented_production_environment()
    production.update(
        DJANGO_SECURE_HSTS_SECONDS="a year",
        DJANGO_SECURE_SSL_REDIRECT="maybe",
        DATABASE_CONN_MAX_AGE="-1",
        LOG_FORMAT="xml",
        LOG_LEVEL="LOUD",
    )
    result = manage("check", env=clean_environment(**production))
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert sorted(error_lines) == sorted(
        f"?: (auth0_django_example.E003) {message}"
        for message in (
            "DJANGO_SECURE_SSL_REDIRECT must be one of 1/0, true/false, yes/no; got 'maybe'.",
            "DJANGO_SECURE_HSTS_SECONDS must be a whole number >= 0, got 'a year'.",
            "DATABASE_CONN_MAX_AGE must be a whole number >= 0, got '-1'.",
            "LOG_FORMAT must be json or text, got 'xml'.",
            "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'LOUD'.",
        )
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url", ["nonsense", "mysql://u:hunter22@db/x", "postgres://u:hunter22@db:notaport/x"]
)
def test_a_bad_database_url_is_one_line_that_does_not_repeat_it(url):
    result = manage("check", env=clean_environment(DJANGO_DEBUG="1", DATABASE_URL=url))
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [
        "?: (auth0_django_example.E003) DATABASE_URL must look like "
        "postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:////absolute/path.sqlite3; the value "
        "set is not one (it is not shown here)."
    ]
    assert "hunter22" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_development_mode_needs_none_of_the_production_variables():
    result = manage("check", env=clean_environment(DJANGO_DEBUG="1"))
    assert (result.returncode, result.stdout) == (
        0,
        "System check identified no issues (0 silenced).\n",
    )


# --- The check function itself (in this process, through the settings fixture) -------------------


def ids(messages):
    return [message.id for message in messages]


def test_an_empty_secret_key_with_debug_off_is_an_error(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = ""
    errors = check_production_settings()
    assert ids(errors) == ["auth0_django_example.E001"]
    assert errors[0].msg == SECRET_KEY_MISSING
    assert errors[0].level == checks.ERROR


def test_no_allowed_hosts_with_debug_off_is_an_error(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = []
    assert ids(check_production_settings()) == ["auth0_django_example.E002"]


def test_debug_on_needs_neither_secret_key_nor_allowed_hosts(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = ""
    settings.ALLOWED_HOSTS = []
    assert check_production_settings() == []


@pytest.mark.parametrize("debug", [True, False])
def test_environment_errors_are_reported_in_any_mode(settings, debug):
    settings.DEBUG = debug
    settings.ENVIRONMENT_ERRORS = ["LOG_FORMAT must be json or text, got 'xml'."]
    errors = check_production_settings()
    assert [(e.id, e.msg) for e in errors] == [
        ("auth0_django_example.E003", "LOG_FORMAT must be json or text, got 'xml'.")
    ]


# --- Static files not collected -------------------------------------------------------------------


def production_without_static_files(tmp_path, **variables):
    return clean_environment(
        **{
            **documented_production_environment(),
            "DJANGO_STATIC_ROOT": str(tmp_path / "never-collected"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **variables,
        }
    )


def test_check_deploy_refuses_uncollected_static_files_with_one_line(tmp_path):
    result = manage("check", "--deploy", env=production_without_static_files(tmp_path))
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [f"?: (auth0_django_example.E004) {STATIC_FILES_NOT_COLLECTED}"]
    assert "Traceback" not in result.stderr


def test_migrate_and_collectstatic_are_not_held_back_by_uncollected_static_files(tmp_path):
    environment = production_without_static_files(tmp_path)
    migrate = manage("migrate", "--noinput", "--verbosity", "0", env=environment)
    assert (migrate.returncode, migrate.stderr) == (0, "")
    plain_check = manage("check", env=environment)
    assert (plain_check.returncode, plain_check.stdout) == (
        0,
        "System check identified no issues (0 silenced).\n",
    )
    collect = manage("collectstatic", "--noinput", "--verbosity", "0", env=environment)
    assert (collect.returncode, collect.stderr) == (0, "")
    assert (tmp_path / "never-collected" / "staticfiles.json").is_file()
    deploy_check = manage("check", "--deploy", env=environment)
    assert "auth0_django_example.E004" not in deploy_check.stderr


def test_gunicorn_refuses_to_start_without_collected_static_files(tmp_path):
    result = subprocess.run(
        [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=production_without_static_files(
            tmp_path, WEB_CONCURRENCY="1", GUNICORN_BIND="127.0.0.1:0"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        f"{STATIC_FILES_NOT_COLLECTED} (auth0_django_example.E004)",
        "Refusing to start: 1 configuration error(s) above.",
    ]
    assert "Listening at" not in result.stderr
    assert "Traceback" not in result.stderr
    # The folder gunicorn.conf.py made for the metrics is removed on a refusal too.
    [metrics_directory] = re.findall(r"multiprocess directory: ([^\s\"]+)", result.stderr)
    assert not Path(metrics_directory).exists()


@pytest.fixture
def manifest_storage(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    return tmp_path


def test_missing_manifest_with_debug_off_is_an_error(manifest_storage):
    errors = check_static_files_collected()
    assert [(e.id, e.msg, e.level) for e in errors] == [
        ("auth0_django_example.E004", STATIC_FILES_NOT_COLLECTED, checks.ERROR)
    ]


def test_unreadable_manifest_is_the_same_error(manifest_storage):
    (manifest_storage / "staticfiles.json").write_text("{not json")
    assert ids(check_static_files_collected()) == ["auth0_django_example.E004"]


def test_present_manifest_passes(manifest_storage):
    (manifest_storage / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    assert check_static_files_collected() == []


def test_debug_on_needs_no_collected_static_files(manifest_storage, settings):
    settings.DEBUG = True
    assert check_static_files_collected() == []


def test_a_storage_without_a_manifest_needs_none(manifest_storage, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert check_static_files_collected() == []


# --- WEB_CONCURRENCY in the shell -----------------------------------------------------------------


def test_make_serve_refuses_a_non_numeric_web_concurrency_with_one_line(tmp_path):
    # gunicorn reads WEB_CONCURRENCY while importing its own config module, before
    # gunicorn.conf.py, and crashes with a traceback on a non-number: `make serve` checks first.
    static_root = tmp_path / "static"
    result = subprocess.run(
        # This interpreter, with nothing installed or created first (-o: the developer's .env).
        ["make", "--silent", "-o", "install", "-o", ".env", f"PY={sys.executable}", "serve"],
        cwd=PROJECT_DIR,
        env=clean_environment(WEB_CONCURRENCY="abc", DJANGO_STATIC_ROOT=str(static_root)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "WEB_CONCURRENCY must be a whole number >= 1, got 'abc'."
    )
    assert "Traceback" not in result.stderr
    assert not static_root.exists()  # stopped before collectstatic
