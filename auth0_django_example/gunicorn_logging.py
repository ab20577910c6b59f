"""gunicorn's logger with an access log that never holds credentials, and costs little per request.

Whatever `access_log_format` asks for, request headers and environ entries that carry credentials
(`Authorization`, `Proxy-Authorization`, `Cookie`) are blanked, the Basic-auth user name is not
decoded, and tokens in the fields a client writes freely (the request line, path, query string,
referrer, user agent and any other request header or environ entry) are redacted. Each access line
also carries structured fields (method, path, status, duration, request id, worker pid) for JSON
logs.

gunicorn's own logger builds an atom for every request header, response header and environ entry
on every request; this one computes only the atoms the format names (parsed once per format), and
redacts only the ones a client can write. `GUNICORN_ACCESS_LOG=0` (gunicorn.conf.py) turns the
access log off where a proxy in front already writes one.
"""

import logging
import os
import re
import time
import traceback

from gunicorn.glogging import Logger

from auth0_django_example.logs import redact

CREDENTIAL_WORDS = ("authorization", "cookie")
REDACTED = "[redacted]"
REQUEST_ID_ATOM = "{x-request-id}o"
# Atoms the structured fields need, whatever the format says.
STRUCTURED_ATOMS = ("h", "m", "U", "s", REQUEST_ID_ATOM)
# Atoms the client writes freely, so they may hold a token: redacted when used (so is every header
# and environ atom the format names, except the request id, which RequestIdMiddleware validated).
CLIENT_TEXT_ATOMS = frozenset({"r", "U", "q", "f", "a"})
_FORMAT_ATOM = re.compile(r"%\(([^)]*)\)")


def _status(resp, environ):
    status = resp.status
    return status.split(None, 1)[0] if isinstance(status, str) else status


def _request_line(resp, environ):
    return "{} {} {}".format(
        environ["REQUEST_METHOD"], environ["RAW_URI"], environ["SERVER_PROTOCOL"]
    )


def _sent(resp, environ):
    sent = getattr(resp, "sent", None)
    return "-" if sent is None else str(sent)


# gunicorn's atoms, each computed only when asked for (duration atoms are computed in atoms()).
SIMPLE_ATOMS = {
    "h": lambda resp, environ: environ.get("REMOTE_ADDR", "-"),
    "l": lambda resp, environ: "-",
    "u": lambda resp, environ: "-",  # never the decoded Basic-auth user name
    "t": lambda resp, environ: time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
    "r": _request_line,
    "s": _status,
    "m": lambda resp, environ: environ.get("REQUEST_METHOD"),
    "U": lambda resp, environ: environ.get("PATH_INFO"),
    "q": lambda resp, environ: environ.get("QUERY_STRING"),
    "H": lambda resp, environ: environ.get("SERVER_PROTOCOL"),
    "b": _sent,
    "B": lambda resp, environ: getattr(resp, "sent", None),
    "f": lambda resp, environ: environ.get("HTTP_REFERER", "-"),
    "a": lambda resp, environ: environ.get("HTTP_USER_AGENT", "-"),
    "p": lambda resp, environ: f"<{os.getpid()}>",
}
DURATION_ATOMS = frozenset({"T", "D", "M", "L"})


def format_atoms(access_log_format: str) -> tuple[str, ...]:
    """The atom names `access_log_format` uses, header and environ names in lower case."""
    names = []
    for name in _FORMAT_ATOM.findall(access_log_format):
        name = name.lower() if name.startswith("{") else name
        if name not in names:
            names.append(name)
    return tuple(names)


def _lower_braced_names(access_log_format: str) -> str:
    """The format with its `{header}i/o/e` atom names in lower case, as atoms() keys them."""
    return _FORMAT_ATOM.sub(
        lambda match: f"%({match[1].lower()})" if match[1].startswith("{") else match[0],
        access_log_format,
    )


def _headers_named(headers, wanted: dict[str, str]) -> dict[str, str]:
    """{atom: value} for the headers in `wanted` (lower-case header name -> atom name)."""
    found = {}
    if hasattr(headers, "items"):
        headers = headers.items()
    for name, value in headers:
        atom = wanted.get(name.lower())
        if atom is not None:
            found[atom] = value  # the last one wins, as in gunicorn's atoms()
    return found


class AccessLogger(Logger):
    """gunicorn's Logger, with the access log built from the atoms its format names."""

    _atoms_plan = None

    def _compute_access_log_enabled(self):
        # gunicorn also counts a logging dict as "enabled"; here `accesslog` alone decides.
        return bool(self.cfg.accesslog)

    def _plan(self):
        """What the current format needs, worked out once per format (a reload may change it):
        (format, its atom names, simple atoms, duration atoms, request headers, response headers,
        environ keys, the format with lower-case header names)."""
        access_log_format = self.cfg.access_log_format
        plan = self._atoms_plan
        if plan is None or plan[0] != access_log_format:
            used = format_atoms(access_log_format)
            names = dict.fromkeys(used + STRUCTURED_ATOMS)
            simple = tuple(name for name in names if name in SIMPLE_ATOMS)
            durations = tuple(name for name in names if name in DURATION_ATOMS)
            request_headers, response_headers, environ_keys = {}, {}, {}
            for name in names:
                if name.startswith("{") and name.endswith("}i"):
                    request_headers[name[1:-2]] = name
                elif name.startswith("{") and name.endswith("}o"):
                    response_headers[name[1:-2]] = name
                elif name.startswith("{") and name.endswith("}e"):
                    environ_keys[name] = name[1:-2].upper()
            plan = (
                access_log_format,
                used,
                simple,
                durations,
                request_headers,
                response_headers,
                environ_keys,
                _lower_braced_names(access_log_format),
            )
            self._atoms_plan = plan
        return plan

    def atoms(self, resp, req, environ, request_time):
        """The atoms the format names (and the structured fields need), credentials blanked."""
        plan = self._plan()
        simple, durations, request_headers, response_headers, environ_keys = plan[2:7]
        atoms = {name: SIMPLE_ATOMS[name](resp, environ) for name in simple}
        if durations:
            seconds, microseconds = request_time.seconds, request_time.microseconds
            atoms.update(
                {
                    "T": seconds,
                    "D": seconds * 1_000_000 + microseconds,
                    "M": seconds * 1000 + microseconds // 1000,
                    "L": f"{seconds}.{microseconds:06d}",
                }
            )
        if request_headers:
            atoms.update(_headers_named(getattr(req, "headers", req), request_headers))
        if response_headers:
            atoms.update(_headers_named(resp.headers, response_headers))
        for atom, key in environ_keys.items():
            # Environ keys are matched without regard to case, as gunicorn's atoms do.
            value = environ.get(key, environ.get(key.lower()))
            if value is not None:
                atoms[atom] = value
        for name, value in atoms.items():
            if name.startswith("{"):
                if any(word in name for word in CREDENTIAL_WORDS):
                    atoms[name] = REDACTED
                elif isinstance(value, str) and name != REQUEST_ID_ATOM:
                    atoms[name] = redact(value)
            elif name in CLIENT_TEXT_ATOMS and isinstance(value, str):
                atoms[name] = redact(value)
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        access_log = self.access_log
        if not access_log.isEnabledFor(logging.INFO):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        seconds, microseconds = request_time.seconds, request_time.microseconds
        fields = {
            "event": "http_access",
            "client": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "status": _status_code(atoms["s"]),
            "duration_ms": round(seconds * 1000 + microseconds / 1000, 1),
            "request_id": atoms.get(REQUEST_ID_ATOM),
            "pid": os.getpid(),  # the worker that served it
        }
        plan = self._plan()
        # As gunicorn's SafeAtoms: quotes escaped, "-" for what the request did not have.
        shown = {name: "-" for name in plan[1]}
        for name, value in atoms.items():
            shown[name] = value.replace('"', '\\"') if value.__class__ is str else value
        try:
            # Logger.info() without its caller lookup (the caller is always this method).
            record = access_log.makeRecord(
                access_log.name, logging.INFO, __file__, 0, plan[7], (shown,), None, extra=fields
            )
            access_log.handle(record)
        except Exception:  # noqa: BLE001 - gunicorn's own behaviour: a bad format must not kill a worker
            self.error(traceback.format_exc())


def _status_code(status):
    try:
        return int(status)
    except (TypeError, ValueError):
        return status
