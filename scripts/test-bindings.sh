#!/usr/bin/env bash
# Tests the mobile bindings through the generated code only (called by scripts/test.sh):
#   1. generate Python, Kotlin and Swift from the built library (scripts/bindings.sh);
#   2. Python: the unittest suite against a real `fieldline serve`;
#   3. Kotlin: compile the generated bindings with `kotlinc -Werror` against Debian's libjna-java
#      and run the visit script (a failed check fails this script);
#   4. Swift: check the generated C header with `clang -fsyntax-only -Werror`.
# Prints "Ran N tests" / "FAILED (failures=N)" lines for test.sh's totals.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/fieldline-target}"
tools="${FIELDLINE_TOOLS:-/var/tmp/fieldline-tools}"
bindings="$CARGO_TARGET_DIR/bindings"

missing=()
command -v java >/dev/null || missing+=(default-jdk-headless)
[ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
command -v clang >/dev/null || missing+=(clang)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"
fi
kotlin="$tools/kotlin/node_modules/kotlin-compiler"
if [ ! -x "$kotlin/bin/kotlinc" ]; then
  mkdir -p "$tools/kotlin"
  (cd "$tools/kotlin" && npm install --silent --no-audit --no-fund kotlin-compiler@2.4.20)
fi

scripts/bindings.sh "$bindings"
cargo build -p fieldline-server --bin fieldline
export FIELDLINE_BIN="$CARGO_TARGET_DIR/debug/fieldline"

status=0
echo "== Python"
PYTHONPATH="$bindings/python" python3 -m unittest discover -s mobile-bindings/tests/python -v || status=1

echo "== Kotlin"
cp="/usr/share/java/jna.jar:$kotlin/lib/kotlinx-coroutines-core-jvm.jar"
if "$kotlin/bin/kotlinc" -Werror -cp "$cp" "$bindings/kotlin/uniffi/fieldline/fieldline.kt" \
    -d "$bindings/fieldline-kotlin.jar" \
  && LD_LIBRARY_PATH="$bindings/python" JAVA_OPTS="-Djava.awt.headless=true" \
    "$kotlin/bin/kotlinc" -cp "$bindings/fieldline-kotlin.jar:$cp" -script mobile-bindings/tests/kotlin/visit.kts; then
  echo "Ran 1 test (kotlin visit)"
else
  echo "Ran 1 test (kotlin visit)"; echo "FAILED (failures=1)"; status=1
fi

echo "== Swift (C header)"
if clang -fsyntax-only -Werror -Wall -Wextra -x c-header "$bindings/swift/fieldlineFFI.h"; then
  echo "Ran 1 test (swift header)"
else
  echo "Ran 1 test (swift header)"; echo "FAILED (failures=1)"; status=1
fi
exit "$status"
