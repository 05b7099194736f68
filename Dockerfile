# voicecue, CPU image: the gateway (Node 22 LTS) and the worker with the embedded espeak engine.
# Draft: the GPU image (CUDA, torch, F5-TTS, WhisperX) builds on this in a later issue.
# syntax=docker/dockerfile:1

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-numpy espeak-ng ffmpeg tini libpocketsphinx3 pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
COPY worker-py ./worker-py
RUN useradd --system --create-home --uid 10001 voicecue && mkdir -p /data && chown voicecue /data
USER voicecue
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 VOICECUE_DATA_DIR=/data VOICECUE_PYTHON=python3
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM so the gateway can finish requests and stop the worker gracefully.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
