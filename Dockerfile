# The kch broker: the workspace installed with pnpm, `kch broker` as the container's process.
# docs/deployment.md explains the image and how to run it; it was written without a Docker engine at
# hand and not built there.
#
#   docker build -t kch .
#   docker run -p 9092:9092 -v kch-data:/data kch broker --advertised-host localhost
#   docker run -p 9092:9092 -e KCH_STORAGE='http://user:password@clickhouse:8123' kch broker
FROM node:22-slim

# pnpm as the repository pins it (package.json "packageManager").
RUN npm install --global pnpm@10.34.8

WORKDIR /app
COPY . .
# The install's prepare script builds the JavaScript `kch` runs (packages/*/dist, in about a second).
# chdb, embedded ClickHouse, comes as npm packages with its engine for linux x64 and arm64 (glibc).
RUN pnpm install --frozen-lockfile \
  && mkdir /data \
  && chown node:node /data

# A broker for clients outside the container, on embedded ClickHouse in the volume unless KCH_STORAGE
# names a ClickHouse server. Every option is a flag or a KCH_* variable (kch broker --help).
ENV KCH_HOST=0.0.0.0 \
    KCH_STORAGE=chdb:/data
VOLUME /data
USER node
EXPOSE 9092 9644

# The admin server's /healthz: the Kafka listener open and ClickHouse answering (503 while stopping).
HEALTHCHECK --interval=15s --timeout=6s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9644/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The exec form, node itself as the process: the runtime's SIGTERM reaches the broker, which stops
# gracefully (requests in flight answered, inserts flushed). A shell in between would not pass it on.
ENTRYPOINT ["node", "packages/cli/bin/kch.js"]
CMD ["broker"]
