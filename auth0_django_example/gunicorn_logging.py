"""gunicorn's logger with an access log that never holds credentials.

Whatever `access_log_format` asks for, request headers and environ entries that carry credentials
(`Authorization`, `Proxy-Authorization`, `Cookie`) are blanked, the Basic-auth user name is not
decoded, and tokens in the request line, query string or referrer are redacted. Each access line
also carries structured fields (method, path, status, duration, request id) for JSON logs.
"""

import traceback

from gunicorn.glogging import Logger

from auth0_django_example.logs import redact

CREDENTIAL_WORDS = ("authorization", "cookie")


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if any(word in name for word in CREDENTIAL_WORDS):
                atoms[name] = "[redacted]"
            elif isinstance(value, str):
                atoms[name] = redact(value)
        atoms["u"] = "-"
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "event": "http_access",
            "client": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "status": _status_code(atoms["s"]),
            "duration_ms": round(atoms["D"] / 1000, 1),
            "request_id": atoms.get("{x-request-id}o"),
        }
        try:
            self.access_log.info(
                self.cfg.access_log_format, self.atoms_wrapper_class(atoms), extra=fields
            )
        except Exception:  # noqa: BLE001 - gunicorn's own behaviour: a bad format must not kill a worker
            self.error(traceback.format_exc())


def _status_code(status):
    try:
        return int(status)
    except (TypeError, ValueError):
        return status
