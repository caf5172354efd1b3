#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian machine.
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything this script prints goes to stderr and to target/setup.log, so a
# caller's stdout (e.g. `./scripts/demo.sh > out.yaml`) holds only its own output.
mkdir -p target
exec > >(tee -a target/setup.log >&2) 2>&1

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
APT_PACKAGES=(redis-server redis-tools postgresql prometheus shellcheck curl openssl etcd-server xz-utils lua5.1)

# apt-get that waits for a concurrent apt run instead of failing at once.
apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# Runs "$@" with Debian's policy-rc.d hook refusing service starts: the tests
# start their own redis-server and PostgreSQL and need only promtool of
# Prometheus, so installing them must not start system services.
without_service_starts() {
  local policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then "$@"; return; fi
  as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
  local status=0
  "$@" || status=$?
  as_root rm -f "$policy"
  return "$status"
}

ensure_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    apt_get update -qq
    without_service_starts apt_get install -y -qq --no-install-recommends "${missing[@]}"
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

# The real control plane for tests/cluster, in an asset directory laid out
# like setup-envtest's: etcd from Debian beside kube-apiserver,
# kube-controller-manager and kubectl unpacked from the project's shared
# third-party copy (../shared/third_party/kubernetes, looked for beside the
# checkout and its parents). KUBEBUILDER_ASSETS, when set, is used instead.
ASSETS_DIR="target/kubebuilder-assets"

# Looks beside `start` and each of its parents.
find_shared_from() {
  local dir="$1"
  while [ "$dir" != "/" ] && [ -n "$dir" ]; do
    dir="$(dirname "$dir")"
    if [ -f "$dir/shared/third_party/kubernetes/SHA256SUMS" ]; then
      echo "$dir/shared/third_party/kubernetes"
      return 0
    fi
  done
  return 1
}

# Beside this checkout, else beside the checkout it was cloned from (a clone
# in a temporary directory still finds the project's shared copy).
find_kube_binaries() {
  find_shared_from "$(pwd)" && return 0
  local origin
  origin="$(git config --get remote.origin.url 2>/dev/null || true)"
  case "$origin" in
    /*) [ -d "$origin" ] && find_shared_from "$origin" && return 0 ;;
  esac
  return 1
}

ensure_kube_assets() {
  if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
    log "using the control-plane binaries in KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS}"
    return
  fi
  local src
  if ! src="$(find_kube_binaries)"; then
    log "WARNING: no shared/third_party/kubernetes and no KUBEBUILDER_ASSETS: the real-API-server tests will be skipped (and fail under CI=true)"
    return
  fi
  mkdir -p "$ASSETS_DIR"
  local binary
  for binary in kube-apiserver kube-controller-manager kubectl; do
    if ! (cd "$ASSETS_DIR" && grep " ${binary}\$" "$src/SHA256SUMS" | sha256sum --check --status 2>/dev/null); then
      log "unpacking ${binary} into ${ASSETS_DIR}"
      xz -dc "$src/${binary}.xz" > "$ASSETS_DIR/${binary}.partial"
      chmod +x "$ASSETS_DIR/${binary}.partial"
      mv "$ASSETS_DIR/${binary}.partial" "$ASSETS_DIR/${binary}"
      (cd "$ASSETS_DIR" && grep " ${binary}\$" "$src/SHA256SUMS" | sha256sum --check --status) \
        || { log "${binary} does not match its checksum"; exit 1; }
    fi
  done
  ln -sfn "$(command -v etcd)" "$ASSETS_DIR/etcd"
}

ensure_rust
if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then ensure_apt; fi
ensure_helm_library
ensure_kube_assets
log "setup complete"
