#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12
# (bookworm) or 13 (trixie) machine, then checks each tool's version.
# Idempotent: a second run installs nothing.
#
# Usage: scripts/setup.sh [--dry-run] [--os-release FILE]
#   --dry-run          print what would be installed and checked; change nothing
#   --os-release FILE  read the distribution from FILE, not /etc/os-release
set -euo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=0
OS_RELEASE=/etc/os-release
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --os-release) OS_RELEASE="${2:?--os-release needs a file}"; shift ;;
    *) printf 'usage: %s [--dry-run] [--os-release FILE]\n' "$0" >&2; exit 2 ;;
  esac
  shift
done

# Everything this script prints goes to stderr and to target/setup.log, so a
# caller's stdout (e.g. `./scripts/demo.sh > out.yaml`) holds only its own
# output. A dry run writes nothing, the log included.
if [ "$DRY_RUN" -eq 0 ]; then
  mkdir -p target
  exec > >(tee -a target/setup.log >&2) 2>&1
else
  exec >&2
fi

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }
# Runs "$@", or in a dry run prints it instead.
run() {
  if [ "$DRY_RUN" -eq 1 ]; then printf 'would run: %s\n' "$*" >&2; else "$@"; fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# "$1" >= "$2", both dotted version numbers.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# Minimum versions. Rust's is Cargo.toml's rust-version (edition 2024).
RUST_MIN="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)"
KUBECTL_MIN=1.28
ETCD_MIN=3.4
PYTHON_MIN=3.11
HELM_SDKPY_VERSION=0.1.32

# Debian packages: a C compiler for ring and the linker, Python for the Helm
# library's virtual environment, the servers the test suite drives for real
# (Redis, PostgreSQL, etcd; promtool from prometheus, amtool from
# prometheus-alertmanager; lua5.1 for the Argo CD health script), umoci for the container image, and shellcheck.
APT_PACKAGES=(gcc libc6-dev python3 python3-venv redis-server redis-tools postgresql prometheus
  prometheus-alertmanager etcd-server lua5.1 umoci shellcheck curl openssl ca-certificates xz-utils git)

# One field of the os-release file, without quotes; read, never sourced.
os_field() { sed -n "s/^$1=//p" "$OS_RELEASE" | tr -d '"' | head -n 1; }

check_distribution() {
  [ -r "$OS_RELEASE" ] || fail "cannot read $OS_RELEASE"
  local id version like name
  id="$(os_field ID)" version="$(os_field VERSION_ID)" like="$(os_field ID_LIKE)"
  name="$(os_field PRETTY_NAME)"
  name="${name:-$id $version}"
  case "$id:$version" in
    debian:12 | debian:13) log "distribution: $name" ;;
    *)
      case " $id $like " in
        *" debian "*) log "WARNING: $name is untested (Debian 12 and 13 are); trying Debian's package names" ;;
        *) fail "$name is not Debian-based; install these yourself, then rerun: ${APT_PACKAGES[*]}, Rust >= $RUST_MIN" ;;
      esac
      ;;
  esac
}

RUST_HINT="install Rust >= ${RUST_MIN} with rustup (stable toolchain, components clippy and rustfmt); Debian's own rustc is too old for edition 2024"

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    fail "no Rust toolchain (cargo, rustc) found: $RUST_HINT"
  fi
  local have
  have="$(rustc --version | awk '{print $2}')"
  version_ge "${have%%-*}" "$RUST_MIN" || fail "rustc $have is too old: $RUST_HINT"
  if command -v rustup >/dev/null 2>&1; then
    for component in clippy rustfmt; do
      rustup component list --installed 2>/dev/null | grep -q "^${component}" \
        || { log "adding rustup component ${component}"; run rustup component add "${component}"; }
    done
  fi
}

# apt-get that waits for a concurrent apt run instead of failing at once.
apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# Runs "$@" with Debian's policy-rc.d hook refusing service starts: the tests
# start their own redis-server and PostgreSQL and need only promtool of
# Prometheus and amtool of Alertmanager, so installing them must not start system services.
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
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages: all present (${APT_PACKAGES[*]})"
  elif [ "$DRY_RUN" -eq 1 ]; then
    log "would install Debian packages (services not started): ${missing[*]}"
  else
    log "installing Debian packages: ${missing[*]}"
    apt_get update -qq
    without_service_starts apt_get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# The real Helm library, for the chart tests, in a virtual environment under
# target/ (Debian's python3 refuses system-wide pip installs). It declares
# Python 3.12 but works on 3.11, hence --ignore-requires-python.
VENV_DIR="target/venv"
ensure_helm_library() {
  if "$VENV_DIR/bin/python3" -c 'import helm_sdkpy' >/dev/null 2>&1; then
    return
  fi
  log "creating the Python virtual environment ${VENV_DIR} with helm-sdkpy ${HELM_SDKPY_VERSION}"
  run python3 -m venv "$VENV_DIR"
  run "$VENV_DIR/bin/python3" -m pip install --quiet --disable-pip-version-check \
    --ignore-requires-python "helm-sdkpy==${HELM_SDKPY_VERSION}"
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
  local binary
  for binary in kube-apiserver kube-controller-manager kubectl; do
    if (cd "$ASSETS_DIR" 2>/dev/null && grep " ${binary}\$" "$src/SHA256SUMS" | sha256sum --check --status 2>/dev/null); then
      continue
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
      log "would unpack ${binary} from ${src} into ${ASSETS_DIR}"
      continue
    fi
    log "unpacking ${binary} into ${ASSETS_DIR}"
    mkdir -p "$ASSETS_DIR"
    xz -dc "$src/${binary}.xz" > "$ASSETS_DIR/${binary}.partial"
    chmod +x "$ASSETS_DIR/${binary}.partial"
    mv "$ASSETS_DIR/${binary}.partial" "$ASSETS_DIR/${binary}"
    (cd "$ASSETS_DIR" && grep " ${binary}\$" "$src/SHA256SUMS" | sha256sum --check --status) \
      || fail "${binary} does not match its checksum"
  done
  local etcd
  etcd="$(command -v etcd || echo /usr/bin/etcd)"
  [ "$(readlink "$ASSETS_DIR/etcd" 2>/dev/null)" = "$etcd" ] || run ln -sfn "$etcd" "$ASSETS_DIR/etcd"
}

# The kubectl the tests run: the test version unpacked above, else one on
# PATH that is new enough. Debian has no usable kubectl package (Debian 12's
# kubernetes-client is 1.20), so without either the script says where to get one.
KUBECTL_HINT="put kubectl >= ${KUBECTL_MIN} on PATH (https://dl.k8s.io/release/v1.33.13/bin/linux/amd64/kubectl, checksum beside it with .sha256), or provide ../shared/third_party/kubernetes"
ensure_kubectl() {
  local kubectl="${KUBEBUILDER_ASSETS:-$ASSETS_DIR}/kubectl"
  if [ -x "$kubectl" ]; then
    log "kubectl: ${kubectl}"
  elif [ "$DRY_RUN" -eq 1 ] && find_kube_binaries >/dev/null; then
    log "kubectl: would be ${kubectl}"
  elif command -v kubectl >/dev/null 2>&1; then
    local have
    have="$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"v\([0-9.]*\).*/\1/p')"
    version_ge "${have:-0}" "$KUBECTL_MIN" || fail "kubectl ${have:-of unknown version} on PATH is too old: $KUBECTL_HINT"
    log "kubectl: $(command -v kubectl) (v${have})"
  else
    fail "no kubectl: $KUBECTL_HINT"
  fi
}

# One line per tool with its version; fails on a tool that is missing or
# older than its minimum (a dry run only reports).
check_tools() {
  local pg_bin
  pg_bin="$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)"
  check_tool rustc "$RUST_MIN" rustc --version
  check_tool cargo "" cargo --version
  check_tool python3 "$PYTHON_MIN" python3 --version
  check_tool helm-sdkpy "" "$VENV_DIR/bin/python3" -m pip show --disable-pip-version-check helm-sdkpy
  check_tool redis-server "" redis-server --version
  check_tool postgres "" "${pg_bin:-/nonexistent}/postgres" --version
  check_tool promtool "" promtool --version
  check_tool amtool "" amtool --version
  check_tool etcd "$ETCD_MIN" etcd --version
  check_tool lua5.1 "" lua5.1 -v
  check_tool umoci "" umoci --version
  check_tool shellcheck "" shellcheck --version
}

# check_tool NAME MIN COMMAND...: the first version number COMMAND prints.
check_tool() {
  local name="$1" min="$2" out version
  shift 2
  if ! out="$("$@" 2>&1)"; then
    [ "$DRY_RUN" -eq 1 ] && { log "  ${name}: not installed yet"; return; }
    fail "${name} does not run (${*}): ${out%%$'\n'*}"
  fi
  version="$(printf '%s\n' "$out" | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n 1)"
  if [ -n "$min" ] && ! version_ge "${version:-0}" "$min"; then
    fail "${name} ${version:-of unknown version} is older than ${min}"
  fi
  log "  ${name} ${version:-?}${min:+ (needs >= $min)}"
}

check_distribution
ensure_rust
ensure_apt
ensure_helm_library
ensure_kube_assets
ensure_kubectl
log "tool versions:"
check_tools
if [ "$DRY_RUN" -eq 1 ]; then log "dry run: nothing changed"; else log "setup complete"; fi
