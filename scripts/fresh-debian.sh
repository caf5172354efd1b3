#!/usr/bin/env bash
# Tries the README's two commands as a new user would: in a fresh Debian root
# file system made with debootstrap from the mirror this machine's apt uses,
# entered with chroot. The project is cloned inside from a read-only bind
# mount, ../shared is bind-mounted read-only beside it, and the host's Rust
# toolchain is bind-mounted read-only (no Debian release ships a Rust new
# enough, and no registry ships rustup).
#
# Usage: sudo ./scripts/fresh-debian.sh [SUITE] [ROOT]
#   SUITE  bookworm (default) or trixie
#   ROOT   where the root file system goes (default target/fresh-SUITE)
# Prints the tails of both commands' output; exits non-zero if either fails.
set -euo pipefail
cd "$(dirname "$0")/.."
project="$(pwd)"
suite="${1:-bookworm}"
root="${2:-$project/target/fresh-$suite}"
shared="$(cd "$project/.." && pwd)/shared"

log() { printf '==> %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, mount, chroot)"; exit 1; }
[ -d "$shared/third_party/kubernetes" ] || { log "no $shared/third_party/kubernetes"; exit 1; }
command -v debootstrap >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >&2

# The mirror this machine's apt already uses.
mirror="$({ grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } \
  | head -n 1 | awk '{print $2}')"
mirror="${mirror:-http://deb.debian.org/debian}"

if [ ! -x "$root/usr/bin/apt-get" ]; then
  log "debootstrap $suite from $mirror into $root"
  debootstrap --variant=minbase --include=ca-certificates,git "$suite" "$root" "$mirror" >&2
fi

mounts=()
# The root a mount point of its own, as a machine's / is: a mount namespace
# made inside (the image tests' `unshare --mount`) can then make it private.
mount_root() {
  mount --bind "$root" "$root"
  mounts+=("$root")
}
bind() { # bind SRC DEST [ro]: recursive, so /dev/shm and /dev/pts come along
  mkdir -p "$root$2"
  mount --rbind "$1" "$root$2"
  mounts+=("$root$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
}
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -R -l "${mounts[$i]}" || true; done
}
trap cleanup EXIT
mount_root
bind /proc /proc
bind /sys /sys
bind /dev /dev
bind "$project" /src/xagent-operator ro
bind "$shared" /src/shared ro
bind "${RUSTUP_HOME:-$HOME/.rustup}" /opt/rust/rustup ro
bind "${CARGO_HOME:-$HOME/.cargo}/bin" /opt/rust/bin ro
# The network settings a machine here has from its administrator: name
# servers, local certificate authorities (a TLS-inspecting proxy's, say) and
# proxy variables.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >&2
fi
proxies=()
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!name:-}" ] && proxies+=("$name=${!name}")
done

# A clone beside the shared copy, as a checkout on a project machine is. The
# script in single quotes runs inside the chroot, hence SC2016.
# shellcheck disable=SC2016
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${proxies[@]}" \
  PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  RUSTUP_HOME=/opt/rust/rustup CARGO_HOME=/root/.cargo \
  bash -euo pipefail -c '
    # A rerun starts from a new clone but keeps the previous build (target/),
    # as a user re-running after a fix would.
    [ -d /src/work/xagent-operator/target ] && mv /src/work/xagent-operator/target /src/work/target.kept
    rm -rf /src/work/xagent-operator && mkdir -p /src/work && ln -sfn /src/shared /src/work/shared
    git config --global --add safe.directory "*"
    git clone -q /src/xagent-operator /src/work/xagent-operator
    cd /src/work/xagent-operator
    [ -d /src/work/target.kept ] && mv /src/work/target.kept target
    echo "==> $(git log --oneline -1)" >&2
    echo "==> ./scripts/demo.sh > out.yaml" >&2
    ./scripts/demo.sh > /root/out.yaml 2> /root/demo.err
    tail -n 5 /root/demo.err >&2
    echo "==> out.yaml: $(grep -c "^kind:" /root/out.yaml) objects, $(wc -l < /root/out.yaml) lines; first lines:" >&2
    head -n 3 /root/out.yaml >&2
    echo "==> ./scripts/test.sh" >&2
    ./scripts/test.sh > /root/test.log 2>&1 || { tail -n 60 /root/test.log >&2; exit 1; }
    grep -E "^test result:|Running " /root/test.log | tail -n 8 >&2
    tail -n 3 /root/test.log >&2
  '
