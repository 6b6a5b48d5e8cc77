# todo-chat: one image with both binaries (`api`, `worker`) and the operator tools (`loadgen`).
#
# Production path (default target `runtime`): builds in a Rust image with a cargo-chef dependency
# layer (sources change, dependencies rarely: the layer is reused), into a small non-root runtime.
#   docker build -t todo-chat .
# Prebuilt path (target `prebuilt`): copies release binaries built on a host with the same glibc
# (Debian 12), for machines whose builds cannot reach a Rust image.
#   CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release --locked --bin api --bin worker --bin loadgen
#   DOCKER_BUILDKIT=1 docker build --target prebuilt -t todo-chat .
# Run: `docker run todo-chat api`, `docker run todo-chat worker`, `docker run todo-chat api migrate up`.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Symbols stripped: a third of the size (panics still name their message and location). Set
# before the dependency layer, so the dependencies are built with the same profile.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
# Dependencies only: this layer is rebuilt when Cargo.lock changes, not when the code does.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin api --bin worker --bin loadgen \
 && mkdir -p /out && cp target/release/api target/release/worker target/release/loadgen /out/

FROM ${RUNTIME_IMAGE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin todo
# The api listens on 8000 (HTTP + WebSocket) and 9464 (metrics); a worker on 8001 (health +
# metrics). HEALTH_PORT picks which one the HEALTHCHECK asks (8001 for a worker).
ENV API_ADDR=0.0.0.0:8000 \
    METRICS_ADDR=0.0.0.0:9464 \
    WORKER_HTTP_ADDR=0.0.0.0:8001 \
    LOG_FORMAT=json \
    HEALTH_PORT=8000
EXPOSE 8000 8001 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${HEALTH_PORT}/health/live" || exit 1
USER 10001:10001
CMD ["api"]

FROM base AS prebuilt
COPY --chown=root:root target/release/api target/release/worker target/release/loadgen /usr/local/bin/

FROM base AS runtime
COPY --from=builder --chown=root:root /out/ /usr/local/bin/
