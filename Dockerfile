# syntax=docker/dockerfile:1
# The tenantbench image: the release binary, the scenarios and the gate rules, run as a non-root
# user on a distroless base (glibc, libgcc, CA certificates; no shell, no package manager).
#
#   docker build -t tenantbench:dev .
#   docker run --rm tenantbench:dev --help
#   docker run --rm -e TENANTBENCH_MONGO_URI tenantbench:dev doctor
#
# deploy/k8s/ runs it as Kubernetes Jobs; docs/scale-out.md has the commands.

# Build stage. Bookworm on purpose: the binary links glibc dynamically (rustls, no OpenSSL), and
# the runtime image below is Debian 12 (bookworm) too, so the glibc it was linked against is the
# one it runs with.
FROM rust:1.95-bookworm AS build
# aws-lc-sys (rustls' crypto provider) may build its C library with cmake. Bookworm's own cmake:
# the release, not a version pin, fixes it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What `cargo build --release --locked --bin tenantbench` reads: the manifest declares the benches,
# so they come too; build.rs watches scenarios/.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src/ src/
COPY benches/ benches/
COPY scenarios/ scenarios/
# Cargo features, e.g. --build-arg FEATURES=srv for mongodb+srv:// URIs (Atlas); none by default.
ARG FEATURES=""
# The registry and target directories are BuildKit caches: a rebuild after a source change
# compiles only the crate itself. The binary is copied out of the cache before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tenantbench ${FEATURES:+--features "$FEATURES"} \
    && install -D -m 0755 target/release/tenantbench /out/tenantbench

# Runtime stage: uid and gid 65532 ("nonroot"), as deploy/k8s sets runAsUser and runAsGroup.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/tenantbench /usr/local/bin/tenantbench
COPY scenarios/ /opt/tenantbench/scenarios/
COPY gates/ /opt/tenantbench/gates/
WORKDIR /opt/tenantbench
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tenantbench"]
CMD ["--help"]
