# syntax=docker/dockerfile:1
#
# hookrelay in a container: build the release binary on the official Rust
# image, run it on distroless (glibc and libgcc, no shell, no package manager)
# as a non-root user.
#
#   docker build -t hookrelay .
#   docker run -p 50051:50051 -v hookrelay-data:/var/lib/hookrelay hookrelay
#
# docs/deployment.md covers configuration, Postgres replicas, health checks
# and shutdown. tests/deployment.rs runs this file's ENV, CMD and HEALTHCHECK
# against the real binary.

FROM rust:1-bookworm AS builder
WORKDIR /src
# Only what `cargo build` reads. build.rs compiles proto/ with protox, so no
# protoc is needed; the benchmark is declared in Cargo.toml, so it must exist;
# vendor/ holds a patched dependency (see [patch.crates-io]); console/dist is
# the web console's committed bundle, which build.rs embeds (no npm here).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY migrations migrations
COPY benches benches
COPY vendor vendor
COPY console/dist console/dist
COPY src src
# BuildKit cache mounts keep the crate registry and compiled dependencies
# between builds, so a source change recompiles hookrelay alone. The target
# directory is a cache, not a layer: the binary is copied out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hookrelay \
    && install -D -m 0755 target/release/hookrelay /out/hookrelay \
    && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/hookrelay /usr/local/bin/hookrelay
# The embedded SQLite database and its key file live here. The directory is
# created owned by the runtime user, and a new named volume copies that
# ownership, so the server can write to it.
COPY --from=builder --chown=65532:65532 /out/data /var/lib/hookrelay
VOLUME ["/var/lib/hookrelay"]
WORKDIR /var/lib/hookrelay
# Listen on every interface (the binary's default is loopback only), keep the
# SQLite default on the volume, and log JSON lines for log shippers. A
# Postgres deployment sets HOOKRELAY_DATABASE_URL and HOOKRELAY_SECRET_KEY.
ENV HOOKRELAY_LISTEN=0.0.0.0:50051 \
    HOOKRELAY_DATABASE_URL=sqlite:///var/lib/hookrelay/hookrelay.db \
    HOOKRELAY_LOG_FORMAT=json
EXPOSE 50051
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# The binary is its own probe: grpc.health.v1 Check, exit 0 only when SERVING.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/hookrelay", "health-check", "--addr", "127.0.0.1:50051"]
# SIGTERM (docker stop, Kubernetes) starts a graceful shutdown; allow it more
# than shutdown_grace_ms (10 s by default): `docker stop -t 30`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hookrelay"]
CMD ["serve"]
