#!/usr/bin/env bash
# Figures for the mobile library: build times of the cdylib (debug, release, and the `mobile`
# profile the apps ship; incremental after a change in the bindings crate), the stripped sizes,
# and listing 1,000 jobs from Rust and from Python through the FFI, side by side on one store.
#
#   scripts/bench-bindings.sh            # uses the shared target directory
#   CLEAN=1 scripts/bench-bindings.sh    # also times from-scratch builds in a fresh target dir
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldline-target}"
secs() {
  local t0; t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

if [ "${CLEAN:-0}" = 1 ]; then
  fresh="$(mktemp -d)"
  echo "from scratch, debug:   $(CARGO_TARGET_DIR="$fresh" secs cargo build -p mobile-bindings) s"
  echo "from scratch, release: $(CARGO_TARGET_DIR="$fresh" secs cargo build -p mobile-bindings --release) s"
  echo "from scratch, mobile:  $(CARGO_TARGET_DIR="$fresh" secs cargo build -p mobile-bindings --profile mobile) s"
  rm -rf "$fresh"
fi
cargo build -p mobile-bindings && cargo build -p mobile-bindings --release
cargo build -p mobile-bindings --profile mobile
touch mobile-bindings/src/lib.rs
echo "after a change in mobile-bindings, debug:   $(secs cargo build -p mobile-bindings) s"
touch mobile-bindings/src/lib.rs
echo "after a change in mobile-bindings, release: $(secs cargo build -p mobile-bindings --release) s"
touch mobile-bindings/src/lib.rs
echo "after a change in mobile-bindings, mobile:  $(secs cargo build -p mobile-bindings --profile mobile) s"
stripped="$(mktemp)"
for profile in release mobile; do
  lib="$CARGO_TARGET_DIR/$profile/libfieldline_mobile.so"
  strip --strip-all -o "$stripped" "$lib"
  echo "$profile cdylib: $(stat -c %s "$lib") bytes, stripped $(stat -c %s "$stripped") bytes"
done
rm -f "$stripped"

out="$CARGO_TARGET_DIR/bindings-release"
scripts/bindings.sh "$out" release >/dev/null
store="$(mktemp -d)"
cargo bench -p mobile-bindings --bench list_jobs -- "$store" | grep -v '^store:'
PYTHONPATH="$out/python" python3 mobile-bindings/tests/python/bench_list.py "$store"
rm -rf "$store"
