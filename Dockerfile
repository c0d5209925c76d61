# syntax=docker/dockerfile:1
# vi-token-broker: build on the full toolchain, ship only dist/ and production dependencies.
# Check it here with `npm run container:check` (Docker when an engine runs, else ../shared/tools/container-check).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.ts ./scripts/
# tsconfig.build.json emits no source maps and no declarations; scripts/bundle.ts then bundles the broker
# into dist/server.bundle.js, which starts in about half the time of its ~1,700 separate modules.
RUN npm run build

FROM node:22-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, without install scripts; then drop what Node never loads at run time
# (type declarations, TypeScript sources, source maps, markdown): about 45 MB of the 100 MB.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts' \
      -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    PORT=8080
# The runtime needs node only: remove the package managers the base ships (not a size win, since they
# stay in the base's layers, but nothing in the running container can install or run packages).
# /home/node/emulator-ca is only for docker-compose's emulator: a volume mounted there inherits node's
# ownership, so the emulator can share its certificate with the broker.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && install -d -o node -g node /home/node/emulator-ca
WORKDIR /app
# Files stay owned by root: the node user can read but not change the application.
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080
# Exec form, so SIGTERM reaches Node directly (PID 1 in the container). With the source map shipped in
# dist/, a stack trace names src/ files and lines. The bundled emulator runs from the same image with:
# node dist/emulator/main.js
CMD ["node", "--enable-source-maps", "dist/server.bundle.js"]
