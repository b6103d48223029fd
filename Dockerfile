# syntax=docker/dockerfile:1
# Kinema in one image: the bot and the worker are the same program, KINEMA_ROLE picks the role.
#   docker build -t kinema .
#   docker run --env-file .env -e KINEMA_ROLE=worker kinema
# compose.yaml runs Redis, one bot and any number of workers from it (README, "Deploying").

ARG NODE_VERSION=20.18.1

# --- build: every dependency, then the TypeScript compiled to dist/ -------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY deploy-commands.ts ./
RUN npm run build

# --- production dependencies only, in a stage of their own so dev tools never reach the image -----
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    KINEMA_ROLE=all \
    HTTP_PORT=3000 \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# ffmpeg and ffprobe are static builds inside npm packages (@ffmpeg-installer, @ffprobe-installer).
# Their files keep the tarball's mode, which is not always executable for anyone but the owner
# (ffprobe ships as rwxr--r--), and the runtime user owns nothing here: make both executable for all,
# wherever this platform's build of them lives. Fails the build if the platform has no build.
RUN node -e "for (const p of ['@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe']) require('node:fs').chmodSync(require(p).path, 0o755)"
# The image's own unprivileged user; the app files stay root's, read-only to it.
USER node
EXPOSE 3000
# main.ts finishes active jobs for SHUTDOWN_GRACE_SECONDS on SIGTERM, then hands them back to the queue.
STOPSIGNAL SIGTERM
# Slim images have no curl: node asks /healthz itself (200 when Redis answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
