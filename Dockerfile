# Dockerfile - tspool container image: a bookworm-slim build stage that builds tspool and runs the
# unit tests, and a runtime stage with only the shared libraries the binary needs.
# SPDX-License-Identifier: MIT
#
#   docker build -t tspool:0.1.0 .
#   docker run --rm -p 8080:8080 -e DB_HOST=db.example -e DB_PASS_FILE=/run/secrets/db tspool:0.1.0
#
# Without Docker: `make image` builds it with buildah on a debootstrap'd base (scripts/image.sh),
# `make image-test` runs it with podman against the PostgreSQL test server.
#
# tests/docker/check-dockerfile.sh keeps this file honest without a Docker engine: every package
# exists in Debian bookworm, the build stage has the -dev packages CMake looks for, and the runtime
# stage installs exactly the packages that own the libraries the built binary links (objdump -p
# NEEDED -> dpkg -S). Keep the package lists one per line for that reason.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc \
      libc6-dev \
      make \
      cmake \
      pkg-config \
      libpq-dev \
      libcivetweb-dev \
      civetweb \
      libjansson-dev \
      libyaml-dev \
      libcurl4-openssl-dev \
      libssl-dev \
      libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTSPOOL_BUILD_BENCH=OFF \
 && cmake --build build -j"$(nproc)" \
 && cd build && ctest -L unit --output-on-failure \
 && install -D -m 0755 -s tspool /out/tspool \
 && install -D -m 0644 -s -t /out/compat libtspool-ssl.so libtspool-crypto.so

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tspool" \
      org.opencontainers.image.description="REST control plane for a PostgreSQL/TimescaleDB connection pool" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpq5 \
      libcivetweb1 \
      libjansson4 \
      libyaml-0-2 \
      libcurl4 \
      libssl3 \
      ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /out/tspool /usr/local/bin/tspool
# next to the binary: the two libraries that let CivetWeb use OpenSSL 3 for HTTPS
COPY --from=build /out/compat/ /usr/local/bin/
# A numeric user, so that Kubernetes can verify runAsNonRoot without /etc/passwd.
USER 10001:10001
ENV TSPOOL_LISTEN=0.0.0.0:8080 \
    TSPOOL_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["tspool", "probe", "live"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tspool", "serve"]
