# syntax=docker/dockerfile:1
#
# The xagent-operator image: a static (musl) binary and the CA bundle on an
# empty base, run as the non-root user 65532. No shell or package manager at
# run time.
#
#   docker build -t xagent/xagent-operator:0.1.0 .

# ---------------------------------------------------------------- build stage
FROM rust:1-bookworm AS builder

ARG TARGET=x86_64-unknown-linux-musl

# musl-gcc compiles the C parts of dependencies (ring) for the musl target.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "${TARGET}"

ENV CC_x86_64_unknown_linux_musl=musl-gcc \
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
    && cp "target/${TARGET}/release/xagent-operator" /xagent-operator

# ------------------------------------------------------------------ run stage
FROM scratch

# CA certificates, for Redis / PostgreSQL TLS against public authorities.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /xagent-operator /xagent-operator

USER 65532:65532
# /metrics, /healthz and /readyz.
EXPOSE 8080

ENTRYPOINT ["/xagent-operator"]
CMD ["run"]
