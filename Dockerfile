# accessbot container image: a static binary on distroless (CA certificates,
# tzdata, a nonroot user, no shell).
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse --short=12 HEAD) -t accessbot .
#   podman build ... (the same)
#
# It serves /healthz, /readyz and /metrics on :8080 (http.listen). The base has
# no shell or curl, so the HEALTHCHECK runs `accessbot healthcheck`, which
# GETs /healthz; Kubernetes probes should GET /healthz and /readyz directly.
#
# BIN=local builds the image from an already built linux binary at
# dist/image/ (accessbot and an empty data/; scripts/container-check does this, since the build
# machine may not reach a registry); the default builds it here.
ARG GO_IMAGE=docker.io/library/golang:1.26.8-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot
ARG BIN=build

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# CGO_ENABLED=0: the SQLite driver (modernc.org/sqlite) is pure Go, so the
# binary is static; timetzdata embeds the zone database as a fallback.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata \
	-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
	-o /out/accessbot ./cmd/accessbot \
	&& mkdir /out/data

FROM scratch AS bin-build
COPY --from=build /out/ /

FROM scratch AS bin-local
COPY dist/image/ /

FROM bin-${BIN} AS bin

FROM ${BASE_IMAGE}
COPY --from=bin /accessbot /usr/local/bin/accessbot
# The SQLite store (the default) lives in /data, owned by the nonroot user:
# mount a volume there. With PostgreSQL set ACCESSBOT_STORE_DRIVER=postgres
# and ACCESSBOT_STORE_DSN instead.
COPY --from=bin --chown=65532:65532 /data /data
WORKDIR /data
ENV ACCESSBOT_HTTP_LISTEN=0.0.0.0:8080 \
	ACCESSBOT_STORE_DSN=file:/data/accessbot.db
EXPOSE 8080
# 65532 is distroless's "nonroot"; numeric, so it also holds on a base without /etc/passwd.
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
	CMD ["/usr/local/bin/accessbot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/accessbot"]
CMD ["run"]
