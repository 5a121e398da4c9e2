# syntax=docker/dockerfile:1
#
# One image for every role and command: `docker run IMAGE api`, `... dispatcher`,
# `... worker`, `... publish power --server srv-01 --action status --nats-url nats://...`.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t tinman .
# Configure with TINMAN_* variables (TINMAN_NATS_URL, TINMAN_REDIS_URL,
# TINMAN_SECRET_KEY for api and worker, TINMAN_TOKENS for api...) or a YAML
# file given as --config / TINMAN_CONFIG: see README.md.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/tinman ./cmd/tinman

FROM debian:bookworm-slim
# ipmitool: bmclib's IPMI provider runs it; ca-certificates: Redfish over HTTPS
# with verify_tls, and TLS to NATS or Redis. bash (in the base image) answers
# the compose healthchecks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ipmitool ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tinman \
 && useradd --system --uid 10001 --gid tinman --home-dir /var/lib/tinman --create-home --shell /usr/sbin/nologin tinman
COPY --from=build /out/tinman /usr/local/bin/tinman
USER 10001:10001
WORKDIR /var/lib/tinman
# 8080: `tinman api` (--http-addr, its default); 8081: /healthz, /readyz and
# /metrics of the dispatcher and worker when TINMAN_HEALTH_ADDR=:8081.
EXPOSE 8080 8081
ENTRYPOINT ["tinman"]
CMD ["--help"]
