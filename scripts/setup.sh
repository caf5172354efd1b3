#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian machine.
# Idempotent: a second run installs nothing.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "no Rust toolchain found: install rustup (stable, with clippy and rustfmt) first"
    exit 1
  fi
  if command -v rustup >/dev/null 2>&1; then
    for component in clippy rustfmt; do
      rustup component list --installed 2>/dev/null | grep -q "^${component}" \
        || { log "adding rustup component ${component}"; rustup component add "${component}"; }
    done
  fi
}

# Debian packages the test suite drives for real.
APT_PACKAGES=(redis-server redis-tools postgresql prometheus shellcheck curl openssl)

ensure_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# The real Helm library, for the chart tests. It declares Python 3.12 but
# works on 3.11, hence --ignore-requires-python.
ensure_helm_library() {
  if ! python3 -c 'import helm_sdkpy' >/dev/null 2>&1; then
    log "installing the Helm library for Python (helm-sdkpy)"
    python3 -m pip install --quiet --disable-pip-version-check --ignore-requires-python helm-sdkpy
  fi
}

ensure_rust
if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then ensure_apt; fi
ensure_helm_library
log "setup complete"
