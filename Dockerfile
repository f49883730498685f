# Build every command, then ship them in a small image that runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/ordersettle ordersettle \
    && mkdir -p /var/lib/ordersettle/settlements \
    && chown -R ordersettle /var/lib/ordersettle
COPY --from=build /out/ /usr/local/bin/
USER ordersettle
ENV PORT=8080 \
    SETTLEMENT_DIR=/var/lib/ordersettle/settlements
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/server"]
