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
# Library, binary and integration tests. Benchmarks are compiled by clippy
# above; they print figures and run with `cargo bench`.
cargo test --locked
