# syntax=docker/dockerfile:1
#
# ox-batch daemon image. Build:   docker build -t ox-batch:0.1.0 .
# Run:    docker run --rm -p 9464:9464 -e REDIS_URL=redis://redis:6379 -e OX_URL=http://ox:8009 \
#           -e OX_USER=oxadmin -e OX_PASSWORD_FILE=/run/secrets/ox_password ox-batch:0.1.0
# One-off: docker run --rm ox-batch:0.1.0 run feedback.export --start 2026-11-01 --end 2026-11-02
#
# scripts/image-steps.sh performs these same steps in a temp folder (no Docker engine needed)
# and test/ship/image-steps.test.ts runs it: keep the two in step.

# Node 24 is the active LTS. Pin a digest (node:24-bookworm-slim@sha256:…) in your registry mirror
# for reproducible builds.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: full dependencies, compile, pack exactly what npm would publish ----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY src ./src
COPY jobs ./jobs
COPY bench ./bench
COPY scripts/copy-lua.mjs ./scripts/
RUN npm run build \
 && npm pack --pack-destination /pkg \
 && mkdir /pkg/app \
 && tar -xzf /pkg/ox-batch-*.tgz -C /pkg/app --strip-components=1 \
 && cp package-lock.json /pkg/app/

# ---- runtime: the packed package plus production dependencies only -----------------------
FROM ${NODE_IMAGE} AS runtime
# Only NODE_ENV here: environment variables override the config file, so the image sets none of
# ox-batch's own (port 9464 and the fs archive ./var/archive = /app/var/archive are the defaults).
# --max-semi-space-size=2: V8 then scavenges often enough to release the network buffers a
# multi-GB export streams through, which keeps a 1M-row export near 140 MB RSS (npm run bench).
ENV NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=2
WORKDIR /app
COPY --from=build /pkg/app ./
# valibot (under @bull-board/api) has an optional peer dependency on typescript; npm installs it
# because the root lists typescript as a dev dependency. Nothing loads it at run time (types
# only), and its native compiler is ~30 MB: drop it.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/@typescript \
 && chmod 0755 dist/src/cli/main.js \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/ox-batch \
 && mkdir -p /app/var/archive \
 && chown -R node:node /app/var
# The image's own user `node` (uid 1000), numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OXB_HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node runs as PID 1 (the bin's shebang execs it, no shell in between) and installs its own
# SIGTERM/SIGINT handlers, so `docker stop` / a pod deletion starts the graceful drain
# (worker.shutdownGraceMs) and the process exits 0. ox-batch starts no child processes, so
# there are no zombies to reap; add `--init` (tini) if a wrapper ever spawns some.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ox-batch"]
CMD ["start"]

LABEL org.opencontainers.image.title="ox-batch" \
      org.opencontainers.image.description="Scheduled, windowed, retried batch work for Open-Xchange App Suite" \
      org.opencontainers.image.licenses="MIT"
