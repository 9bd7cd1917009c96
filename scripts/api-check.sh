#!/usr/bin/env bash
# Property-based check of the office JSON API: schemathesis reads the OpenAPI document of a real
# `fieldline demo` server and sends generated requests (valid and invalid) to every operation as
# office staff, with every check on (no 5xx, responses match their schemas and status codes,
# bad input refused). Any failure fails the run. scripts/test.sh calls it; CI too.
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
cat > "$data/schemathesis.toml" <<EOF
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
EOF

cd "$data"
# Through python3, so a fresh install needs no PATH change.
python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())' \
  run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all \
  --max-examples "${N:-50}" \
  --seed "${SEED:-20261130}" \
  --no-color
