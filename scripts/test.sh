#!/usr/bin/env bash
# Sets up the machine and runs every check: formatting, lints, unit,
# integration and real-API-server tests. Every step runs even when an earlier
# one fails, and the last line is always the totals over every test binary.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
./scripts/setup.sh || { echo "setup failed" >&2; echo "0 passed, 0 failed, 0 skipped (setup failed)"; exit 1; }

failed_steps=()
step() {
  local name="$1"
  shift
  echo "==> $name" >&2
  "$@" || failed_steps+=("$name")
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --locked --all-targets -- -D warnings
# Library, binary, integration (tests/cluster starts a real control plane)
# and doc tests. Benchmarks are compiled by clippy above; they print figures
# and run with `cargo bench`.
echo "==> cargo test" >&2
cargo test --locked --no-fail-fast 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("cargo test")

if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "failed: ${failed_steps[*]}" >&2
fi
# One closing line with the totals over every test binary, naming any test
# binary that failed as a whole (a harness that panics before its first test
# has no "test result" line to count).
awk '
  /^test result:/ { p += $4; f += $6; i += $8 }
  /^error: [0-9]+ targets? failed:/ { listing = 1; next }
  listing && /^ +`/ { gsub(/^ +|`/, ""); bad = bad (bad ? ", " : "") $0; next }
  { listing = 0 }
  END {
    printf "%d passed, %d failed, %d skipped", p, f, i
    if (bad) printf " (failed test binaries: %s)", bad
    printf "\n"
  }' "$log"
[ "${#failed_steps[@]}" -eq 0 ]
