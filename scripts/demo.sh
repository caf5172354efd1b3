#!/usr/bin/env bash
# Sets up the machine, builds the release binary and renders the sample XAgent
# (or the file given as the first argument) into the children the operator applies.
set -euo pipefail
cd "$(dirname "$0")/.."
# Setup and build talk on stderr: stdout is the rendered YAML only.
./scripts/setup.sh >&2
cargo build --release --locked --quiet
exec ./target/release/xagent-operator render -f "${1:-config/samples/xagent.yaml}"
