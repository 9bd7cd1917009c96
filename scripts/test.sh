#!/usr/bin/env bash
# Runs every check Fieldline has: formatting, clippy (-D warnings), the calendar cross-check, all
# tests (unit, property, end-to-end, the bindings) and a short run of every fuzz target when a
# nightly toolchain is installed. Installs what is missing first. CI (.ci/run) calls exactly
# this script.
#
#   scripts/test.sh            # everything
#   FIELDLINE_SKIP_CROSSCHECK=1 scripts/test.sh   # offline: skip the npm cross-check
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse a build directory outside the clone when one exists (builds are slow on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldline-target}"
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# CI clones afresh each time, so incremental caches buy little there and cost gigabytes of disk.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
fuzz_target="${FIELDLINE_FUZZ_TARGET:-/var/tmp/fieldline-fuzz-target}"
prune() {
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-pip; }
  local flags=()
  if [ "${CI:-}" = "true" ]; then flags+=(--incremental); fi
  python3 scripts/prune-target.py "${flags[@]}" "$CARGO_TARGET_DIR" "$fuzz_target"
}

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "toolchain; stale build output from earlier runs removed"
prune
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
cargo --version
# SQLCipher (the phone's encrypted store, bundled by rusqlite) compiles against OpenSSL's libcrypto.
if [ ! -f /usr/include/openssl/evp.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libssl-dev pkg-config
fi

step "cargo fmt --check; generated uniffi declarations up to date"
cargo fmt --all --check
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-pip; }
python3 scripts/bindings/gen_remote.py >/dev/null
git diff --exit-code -- mobile-bindings/src/remote.rs mobile-bindings/src/sections.rs || {
  echo "mobile-bindings/src/{remote,sections}.rs are stale: run python3 scripts/bindings/gen_remote.py"; exit 1; }

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ "${FIELDLINE_SKIP_CROSSCHECK:-0}" != "1" ]; then
  step "calendar cross-check against npm chinese-days"
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }
  if ! command -v npm >/dev/null; then
    apt-get update -qq && apt-get install -y -qq npm
  fi
  ref_dir="${FIELDLINE_REF_DIR:-/var/tmp/fieldline-ref}"
  ref="$ref_dir/node_modules/chinese-days/dist/chinese-days.json"
  if [ ! -f "$ref" ]; then
    mkdir -p "$ref_dir"
    (cd "$ref_dir" && npm install --silent --no-audit --no-fund --prefix . chinese-days@1.5.7 >/dev/null)
  fi
  python3 scripts/calendar/crosscheck.py "$ref"
fi

step "test tools: Noto CJK fonts and poppler (PDFs), Chromium + chromedriver (web UI), s3s-fs (S3), tuspy (tus)"
missing=()
[ -f /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"
fi
tools="${FIELDLINE_TOOLS:-/var/tmp/fieldline-tools}"
if [ ! -x "$tools/bin/s3s-fs" ]; then
  cargo install s3s-fs --version 0.13.0 --features binary --locked \
    --root "$tools" --target-dir "$tools/target"
fi
export FIELDLINE_S3S_FS="$tools/bin/s3s-fs"
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-pip; }
python3 -c "import tusclient" 2>/dev/null || python3 -m pip install --quiet tuspy==1.1.0
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet schemathesis==4.32.5

step "cargo test"
log="$(mktemp)"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$({ grep -E '^test result:' "$log" || true; } | awk '{s+=$4} END {print s+0}')
failed=$({ grep -E '^test result:' "$log" || true; } | awk '{s+=$6} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

step "the end-to-end suite again on PostgreSQL (a private cluster from scripts/pg.sh, one database per server)"
pg_dir="${FIELDLINE_PG_DIR:-/var/tmp/fieldline-pg}"
set +e
pg_url=$(scripts/pg.sh start "$pg_dir")
pg_status=$?
set -e
if [ "$pg_status" -ne 0 ]; then
  echo "PostgreSQL did not start"; failed=$((failed + 1)); status=1
else
  echo "PostgreSQL at $pg_url"
  set +e
  FIELDLINE_TEST_POSTGRES="$pg_url" cargo test --locked --no-fail-fast -p fieldline-tests -p fieldline-server -p fieldline-store 2>&1 | tee "$log"
  pg_test_status=${PIPESTATUS[0]}
  set -e
  # The office API against a demo server on PostgreSQL too (schemathesis).
  echo "office API on PostgreSQL (scripts/api-check.sh)"
  pg_api_db="${pg_url%/*}/api_check"
  set +e
  psql -q "$pg_url" -c "CREATE DATABASE api_check TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'" \
    && FIELDLINE_DATABASE_URL="$pg_api_db" scripts/api-check.sh > "$log.api" 2>&1
  pg_api_status=$?
  set -e
  if [ "$pg_api_status" -eq 0 ]; then tail -n 3 "$log.api"; else cat "$log.api"; fi
  rm -f "$log.api"
  scripts/pg.sh stop "$pg_dir" || true
  pg_passed=$({ grep -E '^test result:' "$log" || true; } | awk '{s+=$4} END {print s+0}')
  pg_failed=$({ grep -E '^test result:' "$log" || true; } | awk '{s+=$6} END {print s+0}')
  if [ "$pg_test_status" -ne 0 ] && [ "$pg_failed" -eq 0 ]; then pg_failed=1; fi
  if [ "$pg_api_status" -eq 0 ]; then pg_passed=$((pg_passed + 1)); else pg_failed=$((pg_failed + 1)); pg_test_status=$pg_api_status; fi
  echo "on PostgreSQL: ${pg_passed} passed, ${pg_failed} failed"
  passed=$((passed + pg_passed))
  failed=$((failed + pg_failed))
  if [ "$pg_test_status" -ne 0 ]; then status=$pg_test_status; fi
fi

step "mobile bindings: generate Python, Kotlin and Swift; run the visit through Python and Kotlin; check the Swift header"
set +e
scripts/test-bindings.sh > "$log" 2>&1
py_status=$?
set -e
cat "$log"
py_ran=$({ grep -E '^Ran [0-9]+ test' "$log" || true; } | awk '{s+=$2} END {print s+0}')
py_failed=$({ grep -oE '(failures|errors)=[0-9]+' "$log" || true; } | awk -F= '{s+=$2} END {print s+0}')
if [ "$py_status" -ne 0 ] && [ "$py_failed" -eq 0 ]; then py_failed=1; fi
passed=$((passed + (py_ran > py_failed ? py_ran - py_failed : 0)))
failed=$((failed + py_failed))
if [ "$py_status" -ne 0 ]; then status=$py_status; fi

step "office API: schemathesis against a demo server (scripts/api-check.sh)"
set +e
scripts/api-check.sh > "$log" 2>&1
api_status=$?
set -e
if [ "$api_status" -eq 0 ]; then tail -n 25 "$log"; else cat "$log"; fi
if [ "$api_status" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=$api_status; fi

step "fuzzing: every target briefly (scripts/fuzz.sh --seconds 10; the dedicated run is scripts/fuzz.sh)"
elapsed=$(( $(date +%s) - started ))
if [ "$elapsed" -gt $(( ${FIELDLINE_FUZZ_BUDGET_MIN:-50} * 60 )) ]; then
  echo "fuzzing skipped: ${elapsed} s already spent (budget ${FIELDLINE_FUZZ_BUDGET_MIN:-50} min)"
else
  set +e
  scripts/fuzz.sh --seconds "${FIELDLINE_FUZZ_SECONDS:-10}" > "$log" 2>&1
  fuzz_status=$?
  set -e
  cat "$log"
  fuzz_ok=$({ grep -E '^fuzz .*, ok$' "$log" || true; } | wc -l)
  fuzz_bad=$({ grep -E '^fuzz .*CRASHED$' "$log" || true; } | wc -l)
  passed=$((passed + fuzz_ok))
  failed=$((failed + fuzz_bad))
  if [ "$fuzz_status" -ne 0 ]; then status=$fuzz_status; [ "$fuzz_bad" -eq 0 ] && failed=$((failed + 1)); fi
fi
rm -f "$log"
step "stale build output removed"
prune || true
echo
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
