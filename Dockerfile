# syntax=docker/dockerfile:1
#
# The xagent-operator image, for users with Docker: a fully static binary
# (glibc linked in, x86_64-unknown-linux-gnu) and the CA bundle on an empty
# base, run as the non-root user 65532. No shell or package manager at run
# time. The same layout as `scripts/image.sh`, which builds the image without
# a container engine and is the build the tests check.
#
#   docker build -t xagent/xagent-operator:0.1.0 .

# ---------------------------------------------------------------- build stage
FROM rust:1-bookworm AS builder

ARG TARGET=x86_64-unknown-linux-gnu

ENV RUSTFLAGS="-C target-feature=+crt-static" \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never

WORKDIR /src

# 1. Dependencies only, with a dummy crate: this layer is rebuilt only when
#    Cargo.toml or Cargo.lock change. Cargo checks that every [[bench]] target
#    in Cargo.toml has a file, so each gets an empty stub (benches are not
#    part of the image).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for bench in $(awk '/^\[\[bench\]\]/ { b = 1; next } /^\[/ { b = 0 } b && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print }' Cargo.toml); do \
           echo 'fn main() {}' > "benches/${bench}.rs"; \
       done \
    && cargo build --release --locked --target "${TARGET}" \
    && rm -rf src \
        "target/${TARGET}/release/xagent-operator" \
        "target/${TARGET}/release/deps/xagent_operator-"* \
        "target/${TARGET}/release/deps/libxagent_operator-"* \
        "target/${TARGET}/release/.fingerprint/xagent-operator-"*

# 2. The operator itself.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --target "${TARGET}" \
    && mkdir -p /rootfs/etc/ssl/certs \
    && cp "target/${TARGET}/release/xagent-operator" /rootfs/xagent-operator \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && echo 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin' > /rootfs/etc/passwd \
    && echo 'nonroot:x:65532:' > /rootfs/etc/group \
    && echo 'hosts: files dns' > /rootfs/etc/nsswitch.conf \
    && mkdir -m 1777 /rootfs/tmp

# ------------------------------------------------------------------ run stage
FROM scratch

# The binary, the CA bundle (Redis / PostgreSQL TLS against public
# authorities), passwd/group naming the numeric user, and a writable /tmp.
COPY --from=builder /rootfs/ /

USER 65532:65532
# /metrics, /healthz and /readyz.
EXPOSE 8080

ENTRYPOINT ["/xagent-operator"]
CMD ["run"]
