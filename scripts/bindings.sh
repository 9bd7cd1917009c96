#!/usr/bin/env bash
# Builds the mobile library and generates its Kotlin, Swift and Python bindings.
#
#   scripts/bindings.sh [OUT_DIR] [debug|release|mobile]     (default: target/bindings, debug)
#
# OUT_DIR/python holds `fieldline.py` and the library beside it (`import fieldline` with
# OUT_DIR/python on PYTHONPATH); OUT_DIR/kotlin and OUT_DIR/swift hold the sources for the apps
# (see mobile-bindings/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/bindings}"
profile="${2:-debug}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldline-target}"
case "$profile" in
  debug) flag=() ;;
  release|mobile) flag=(--profile "$profile") ;;
  *) echo "unknown profile '$profile' (debug, release or mobile)" >&2; exit 2 ;;
esac
cargo build -p mobile-bindings "${flag[@]}"
cargo build -p uniffi-bindgen
case "$(uname -s)" in
  Darwin) lib="$CARGO_TARGET_DIR/$profile/libfieldline_mobile.dylib" ;;
  *) lib="$CARGO_TARGET_DIR/$profile/libfieldline_mobile.so" ;;
esac
mkdir -p "$out"
for lang in python kotlin swift; do
  rm -rf "${out:?}/$lang"
  "$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$lib" --language "$lang" \
    --out-dir "$out/$lang" --no-format
done
cp "$lib" "$out/python/"
echo "bindings in $out (python, kotlin, swift) from $lib"
