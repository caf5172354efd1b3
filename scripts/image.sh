#!/usr/bin/env bash
# Builds the operator's container image without a container engine: a fully
# static binary for the installed x86_64-unknown-linux-gnu target, assembled
# from scratch with umoci into an OCI image layout, and written as an OCI
# archive that any registry client takes, e.g.
#   skopeo copy oci-archive:target/image/xagent-operator.oci.tar docker://REGISTRY/xagent-operator:TAG
# The layout matches the Dockerfile's: /xagent-operator, the CA bundle, user
# 65532:65532, no shell.
#
# Usage: scripts/image.sh   (prints the archive's path on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

TARGET=x86_64-unknown-linux-gnu
OUT=target/image
LAYOUT="$OUT/layout"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
TAG="${IMAGE_TAG:-$VERSION}"
ARCHIVE="$OUT/xagent-operator.oci.tar"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

command -v umoci >/dev/null || { log "umoci missing: run ./scripts/setup.sh"; exit 1; }
[ -f "$CA_BUNDLE" ] || { log "no $CA_BUNDLE: run ./scripts/setup.sh (ca-certificates)"; exit 1; }

# glibc linked in statically: the image has no libc to load. Symbols are
# stripped to keep the image small; the target directory of its own keeps
# these flags from invalidating the ordinary release build.
log "building a static release binary for ${TARGET}"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo build --release --locked --quiet --target "$TARGET" --bin xagent-operator >&2
BINARY="target/$TARGET/release/xagent-operator"
if readelf --program-headers "$BINARY" | grep -q INTERP; then
  log "$BINARY is dynamically linked"
  exit 1
fi

rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)

log "assembling the OCI image ${LAYOUT}:${TAG}"
rm -rf "$LAYOUT" "$ARCHIVE"
mkdir -p "$OUT"
bundle="$(mktemp -d)"
trap 'rm -rf "$bundle"' EXIT
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$TAG"
# unpack + repack, not `umoci insert`: umoci 0.4's insert writes layers
# without the tar end-of-archive blocks, which GNU tar and scanners refuse.
umoci unpack "${rootless[@]}" --image "$LAYOUT:$TAG" "$bundle/b" >&2

# The root file system: the binary, the CA bundle (Redis / PostgreSQL TLS
# against public authorities), passwd/group naming the numeric user for
# tools that look it up, and a writable /tmp.
rootfs="$bundle/b/rootfs"
chmod 0755 "$rootfs"
install -D -m 0755 "$BINARY" "$rootfs/xagent-operator"
install -D -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'nonroot:x:65532:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
mkdir -m 1777 "$rootfs/tmp"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
umoci repack "${rootless[@]}" --image "$LAYOUT:$TAG" --history.created_by "scripts/image.sh" "$bundle/b" >&2
umoci config --image "$LAYOUT:$TAG" \
  --os linux --architecture amd64 \
  --config.user 65532:65532 \
  --config.entrypoint /xagent-operator --config.cmd run \
  --config.exposedports 8080/tcp \
  --config.workingdir / \
  --config.label org.opencontainers.image.title=xagent-operator \
  --config.label "org.opencontainers.image.description=Kubernetes operator for the X-Agent platform" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --manifest.annotation "org.opencontainers.image.ref.name=$TAG"
umoci gc --layout "$LAYOUT"

# An OCI archive is the image layout directory as one tar.
tar --sort=name -C "$LAYOUT" -cf "$ARCHIVE" .
log "image ${TAG}: $(du -h "$ARCHIVE" | cut -f1) archive"
echo "$ARCHIVE"
