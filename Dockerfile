# syntax=docker/dockerfile:1
# vi-token-broker: build on the full toolchain, ship only dist/ and production dependencies.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# Files stay owned by root: the node user can read but not change the application.
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Only for docker-compose's emulator: a volume mounted here inherits node's ownership, so the
# emulator can share its certificate with the broker.
RUN install -d -o node -g node /home/node/emulator-ca
USER node
EXPOSE 8080
# Exec form, so SIGTERM reaches Node directly. The bundled emulator runs from the same image
# with: node dist/emulator/main.js
CMD ["node", "dist/server.js"]
