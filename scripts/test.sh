#!/usr/bin/env bash
# Sets up the machine and runs every check: formatting, lints, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy" >&2
cargo clippy --locked --all-targets -- -D warnings
echo "==> cargo test" >&2
# Library, binary, integration and doc tests. Benchmarks are compiled by
# clippy above; they print figures and run with `cargo bench`.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked 2>&1 | tee "$log"
# One closing line with the totals over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' "$log"
