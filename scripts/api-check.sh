#!/usr/bin/env bash
# Property-based check of every described HTTP operation: schemathesis reads the OpenAPI document
# of a real `fieldline demo` server and sends generated requests (valid and invalid) to every
# operation as office staff (a bearer token, and the browser's session cookie for downloads),
# with every check on (no 5xx, responses match their schemas, status codes and media types, bad
# input refused). The office's and the customer's JSON, login, sync's binary body, the reference
# feed, photo files, tus uploads, PDFs, spreadsheets and the customer file. Any failure fails the
# run. scripts/test.sh calls it; CI too.
#
#   scripts/api-check.sh              # 50 examples per operation
#   N=500 scripts/api-check.sh        # a longer run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldline-target}"

python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet schemathesis==4.32.5
cargo build --locked -p fieldline-server --bin fieldline
bin="$CARGO_TARGET_DIR/debug/fieldline"

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The customers' operations are limited per address; here every request comes from one address,
# so the limits are lifted to let the generated requests reach the logic behind them.
FIELDLINE_DATA_DIR="$data" FIELDLINE_LISTEN="127.0.0.1:$port" NO_COLOR=1 \
  FIELDLINE_PUBLIC_REQUESTS_PER_MINUTE_PER_ADDRESS=1000000 \
  FIELDLINE_APPLICATIONS_PER_HOUR_PER_ADDRESS=1000000 \
  "$bin" demo > "$data/log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 600); do
  grep -q "fieldline listening on http://" "$data/log" && break
  kill -0 "$server" 2>/dev/null || { cat "$data/log"; echo "the demo server stopped"; exit 1; }
  sleep 0.1
done
grep -q "fieldline listening on http://" "$data/log" || { cat "$data/log"; echo "the demo server did not start"; exit 1; }
base="http://127.0.0.1:$port"
password="$(awk '$1 == "office1" { print $3 }' "$data/log")"
token="$(curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"office1\",\"password\":\"$password\",\"device_id\":\"api-check-1\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

# A real tracking token (a demo job's progress link) for the customer's read of it, and the demo
# unit for its list of managers. The writes keep generated values: a real unit or token would
# turn schema-valid but semantically wrong input (a wrong check digit, a plan not yet replied)
# into the 400 it deserves, which schemathesis counts as valid data refused.
job="$(curl -sf "$base/api/v1/jobs?limit=1" -H "Authorization: Bearer $token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["rows"][0]["job_id"])')"
track="$(curl -sf "$base/api/v1/jobs/$job" -H "Authorization: Bearer $token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["job"]["progress_token"])')"
# The browser's session for the downloads: the login form's CSRF cookie, then the form.
login_csrf="$(curl -s -D - -o /dev/null "$base/" |
  awk -F'[=;]' 'tolower($1) ~ /^set-cookie: fl_login_csrf$/ { print $2 }' | tr -d '\r')"
session="$(curl -s -D - -o /dev/null "$base/login" -H "Cookie: fl_login_csrf=$login_csrf" \
  --data-urlencode "username=office1" --data-urlencode "password=$password" \
  --data-urlencode "csrf=$login_csrf" --data-urlencode "next=/jobs" |
  awk -F'[=;]' 'tolower($1) ~ /^set-cookie: fl_session$/ { print $2 }' | tr -d '\r')"
[ -n "$session" ] || { echo "the office's browser login failed"; exit 1; }
cat > "$data/schemathesis.toml" <<EOF
# The phones' and the office's operations take the bearer token, the browser's downloads the
# session cookie: each operation gets the one its description names.
[auth.openapi.bearer]
bearer = "$token"

[auth.openapi.session]
api_key = "$session"

[[operations]]
include-name = "GET /api/v1/public/units/{unit}/managers"
parameters = { unit = "zhuxian" }

[[operations]]
include-name = "GET /api/v1/public/track/{token}"
parameters = { token = "$track" }

# An application's ID number has a check character and its phone a shape the schema cannot
# express: schema-valid data the server refuses with 400 is right there, not a finding.
[[operations]]
include-name = "POST /api/v1/public/units/{unit}/applications"
checks.positive_data_acceptance.expected-statuses = [200, 201, 400, 404, 409, 429]

# The browser's downloads: without a session the browser is sent to the login page (303).
[[operations]]
include-name = "GET /jobs/export.csv"
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

[[operations]]
include-name = "GET /jobs/export.xlsx"
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

[[operations]]
include-name = "GET /assessment.csv"
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

[[operations]]
include-name = "GET /assessment.xlsx"
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

# Real documents to render: the demo job's receipt, notice, customer file and automerge document,
# the customer's receipt, the unit's guide.
[[operations]]
include-name = "GET /jobs/{id}/receipt.pdf"
parameters = { id = "$job" }
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

[[operations]]
include-name = "GET /jobs/{id}/archive.zip"
parameters = { id = "$job" }
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]

[[operations]]
include-name = "GET /api/v1/jobs/{id}/automerge"
parameters = { id = "$job" }

[[operations]]
include-name = "GET /p/{token}/receipt.pdf"
parameters = { token = "$track" }

[[operations]]
include-name = "GET /public/{unit}/guide/{kind}/pdf"
parameters = { unit = "zhuxian" }
checks.positive_data_acceptance.expected-statuses = [200, 404]

# A job without findings has no notice to give (400), an unknown inspection none either (404).
[[operations]]
include-name = "GET /jobs/{id}/notice.pdf"
parameters = { id = "$job" }
checks.negative_data_rejection.expected-statuses = [303, 400, 401, 403, 404]
checks.missing_required_header.expected-statuses = [303, 400, 401]
checks.positive_data_acceptance.expected-statuses = [200, 400, 404]

# Credentials the generator makes up are wrong (401) or, in a flood from one address, limited;
# 64 hex digits are not always an ed25519 point (400), which a schema cannot say.
[[operations]]
include-name = "POST /api/v1/auth/login"
checks.positive_data_acceptance.expected-statuses = [200, 400, 401, 429]

# A sync body is CBOR compressed with zstd: generated bytes are refused (400), as is a missing
# or old protocol version (426). The protocol's own tests send real bodies.
[[operations]]
include-name = "POST /api/v1/sync"
checks.positive_data_acceptance.expected-statuses = [200, 400, 426]
checks.negative_data_rejection.expected-statuses = [400, 401, 413, 426]

# tus: generated metadata names no job of the caller and no real photo; offsets and checksums
# made up do not match; a missing or other Tus-Resumable is 412, as tus 1.0 has it. The
# protocol's own tests (stock tus clients) upload real files.
[[operations]]
include-name = "POST /api/v1/uploads"
checks.positive_data_acceptance.expected-statuses = [201, 400, 403, 404, 409, 412, 413]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 409, 412, 413, 415, 460]
checks.missing_required_header.expected-statuses = [400, 401, 412]

[[operations]]
include-name = "PATCH /api/v1/uploads/{id}"
checks.positive_data_acceptance.expected-statuses = [204, 400, 404, 409, 412, 413, 415, 460]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 409, 412, 413, 415, 460]
checks.missing_required_header.expected-statuses = [400, 401, 412]

[[operations]]
include-name = "HEAD /api/v1/uploads/{id}"
checks.positive_data_acceptance.expected-statuses = [200, 404, 412]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 409, 412, 413, 415, 460]
checks.missing_required_header.expected-statuses = [400, 401, 412]

[[operations]]
include-name = "DELETE /api/v1/uploads/{id}"
checks.positive_data_acceptance.expected-statuses = [204, 404, 409, 412]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 409, 412, 413, 415, 460]
checks.missing_required_header.expected-statuses = [400, 401, 412]

[[operations]]
include-name = "GET /api/v1/blobs/{sha256}"
checks.positive_data_acceptance.expected-statuses = [200, 206, 304, 400, 404, 416]
EOF

cd "$data"
export SCHEMATHESIS_HOOKS=api_check_hooks PYTHONPATH="$OLDPWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
# Through python3, so a fresh install needs no PATH change.
python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())' \
  run "$base/api/v1/openapi.json" \
  --checks all \
  --max-examples "${N:-50}" \
  --seed "${SEED:-20261130}" \
  --no-color
