#!/usr/bin/env bash
# Fuzzes everything a client sends the server with cargo-fuzz (libFuzzer, nightly toolchain):
# the sync body, pushed automerge bytes (chunk check, job read, rights check), contract
# manifests and receipts, tus headers, byte ranges, photo headers and whole small photos. Seeds: fuzz/seeds (real data,
# written by `cargo run -p fieldline-tests --bin fuzz_seeds -- fuzz/seeds`).
#
#   scripts/fuzz.sh                 # each target for 1,000,000 executions (the dedicated run)
#   scripts/fuzz.sh --seconds 15    # each target for 15 s (what scripts/test.sh does in CI)
#
# Prints one line per target with its executions; exits non-zero if a target crashed (the input
# is saved under fuzz/artifacts/<target>/; add it to the regression tests).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(-runs=1000000)
if [ "${1:-}" = "--seconds" ]; then
  mode=(-max_total_time="${2:-15}")
fi
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzzing skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
tools="${FIELDLINE_TOOLS:-/var/tmp/fieldline-tools}"
export PATH="$tools/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
export CARGO_TARGET_DIR="${FIELDLINE_FUZZ_TARGET:-/var/tmp/fieldline-fuzz-target}"
targets=(sync_request automerge_job contract_json tus_headers byte_range photo_header photo_decode)
(cd fuzz && cargo +nightly fuzz build)
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  log="$corpus/$t.log"
  extra=()
  # Ingest runs its hashing and thumbnail on scoped threads; LeakSanitizer reports glibc's
  # per-thread destructor list of each finished thread as a leak (32 bytes, never Rust's).
  if [ "$t" = photo_decode ]; then extra+=(-detect_leaks=0); fi
  if (cd fuzz && cargo +nightly fuzz run "$t" "$corpus/$t" "seeds/$t" -- \
        "${mode[@]}" -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 "${extra[@]}") >"$log" 2>&1; then
    result=ok
  else
    result=CRASHED; status=1
    tail -40 "$log"
  fi
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  secs=$(grep -E '^Done [0-9]+ runs in' "$log" | awk '{print $5}' | tail -1)
  echo "fuzz $t: ${runs:-?} executions in ${secs:-?} s, $result"
done
exit "$status"
