#!/usr/bin/env bash
# `make postman`: run the Postman collection with newman against a throwaway development server.
#
# The server runs on a free loopback port with the local development issuer (DJANGO_DEBUG=1, no
# Auth0 tenant), a temporary SQLite database and a temporary signing key; tokens are minted with
# `manage.py mint_token`. The server and the temporary files are removed however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
NEWMAN=postman/node_modules/.bin/newman
HOST=127.0.0.1

workdir=$(mktemp -d "${TMPDIR:-/tmp}/auth0-django-example-postman.XXXXXX")
server_pid=""

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Development mode on the local issuer, whatever a developer's .env says: variables set here win
# over .env, and an empty value counts as unset.
export DJANGO_DEBUG=1
export AUTH0_DOMAIN="" AUTH0_ISSUER="" AUTH0_API_IDENTIFIER="" API_IDENTIFIER="" AUTH0_JWKS_URL=""
export LOCAL_ISSUER_URL="" DJANGO_ALLOWED_HOSTS="" DJANGO_SECURE_SSL_REDIRECT=0
export LOCAL_ISSUER_KEY_DIR="$workdir/issuer"
export DATABASE_URL="sqlite:///$workdir/db.sqlite3"
export PYTHONUNBUFFERED=1

"$PY" manage.py migrate --noinput >"$workdir/migrate.log" 2>&1 || {
    cat "$workdir/migrate.log" >&2
    exit 1
}

mint() { "$PY" manage.py mint_token "$@"; }
token=$(mint --sub "auth0|postman" --scope "read:messages read:customers write:customers")
token_no_scope=$(mint --sub "auth0|postman" --scope "openid profile")
token_other_user=$(mint --sub "auth0|postman-other" --scope "read:customers write:customers")
# Auth0 Organizations: two members of organization A, and the first user in organization B.
token_org_a=$(mint --sub "auth0|postman" --org-id org_postmanA0000001 --org-name postman-a \
    --scope "read:customers write:customers")
token_org_a_colleague=$(mint --sub "auth0|postman-colleague" --org-id org_postmanA0000001 \
    --org-name postman-a --scope "read:customers write:customers")
token_org_b=$(mint --sub "auth0|postman" --org-id org_postmanB0000002 --org-name postman-b \
    --scope "read:customers write:customers")

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base_url="http://$HOST:$port"

"$PY" manage.py runserver "$HOST:$port" --noreload >"$workdir/server.log" 2>&1 &
server_pid=$!

# Tokens travel in environment variables, never on a command line (where `ps` shows them).
export POSTMAN_BASE_URL="$base_url" POSTMAN_TOKEN="$token" POSTMAN_TOKEN_NO_SCOPE="$token_no_scope"
export POSTMAN_TOKEN_OTHER_USER="$token_other_user" POSTMAN_SERVER_PID="$server_pid"
export POSTMAN_TOKEN_ORG_A="$token_org_a" POSTMAN_TOKEN_ORG_A_COLLEAGUE="$token_org_a_colleague"
export POSTMAN_TOKEN_ORG_B="$token_org_b"

# Wait (at most 30 s) until the server answers and the signing keys are loaded.
"$PY" - <<'PYTHON' || { cat "$workdir/server.log" >&2; exit 1; }
import os
import sys
import time
import urllib.error
import urllib.request

base_url, token = os.environ["POSTMAN_BASE_URL"], os.environ["POSTMAN_TOKEN"]
request = urllib.request.Request(base_url + "/api/private/", headers={"Authorization": "Bearer " + token})
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            if response.status == 200:
                break
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass
    try:
        os.kill(int(os.environ["POSTMAN_SERVER_PID"]), 0)
    except ProcessLookupError:
        sys.exit("The development server stopped before it became ready.")
    if time.monotonic() > deadline:
        sys.exit(f"The server at {base_url} did not become ready within 30 seconds.")
    time.sleep(0.2)
PYTHON

# newman reads the tokens from a private copy of the environment file.
"$PY" - postman/local.postman_environment.json "$workdir/environment.json" <<'PYTHON'
import json
import os
import sys

source, target = sys.argv[1], sys.argv[2]
environment = json.load(open(source))
values = {
    "baseUrl": os.environ["POSTMAN_BASE_URL"],
    "token": os.environ["POSTMAN_TOKEN"],
    "tokenNoScope": os.environ["POSTMAN_TOKEN_NO_SCOPE"],
    "tokenOtherUser": os.environ["POSTMAN_TOKEN_OTHER_USER"],
    "tokenOrgA": os.environ["POSTMAN_TOKEN_ORG_A"],
    "tokenOrgAColleague": os.environ["POSTMAN_TOKEN_ORG_A_COLLEAGUE"],
    "tokenOrgB": os.environ["POSTMAN_TOKEN_ORG_B"],
}
for variable in environment["values"]:
    if variable["key"] in values:
        variable["value"] = values[variable["key"]]
json.dump(environment, open(target, "w"))
PYTHON

status=0
"$NEWMAN" run postman/auth0-django-example.postman_collection.json \
    --environment "$workdir/environment.json" --color off || status=$?
if [ "$status" -ne 0 ]; then
    echo "newman failed; the server's log:" >&2
    tail -n 50 "$workdir/server.log" >&2
fi
exit "$status"
