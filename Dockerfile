# syntax=docker/dockerfile:1
# voicecue's two images (no Docker engine builds them in CI: they are written and reviewed):
#   docker build --target cpu -t voicecue:cpu .   espeak and the offline aligners, any CPU
#   docker build --target gpu -t voicecue:gpu .   + F5-TTS and WhisperX on an NVIDIA GPU
# Both are Debian 12 with its Python 3.11 (what CI tests the worker and the GPU libraries on) and
# Node 22 LTS. The GPU image takes CUDA's runtime libraries from the nvidia-*-cu12 wheels that
# requirements-gpu.txt pins for torch (one copy, the one torch was built against); the host gives
# the driver (NVIDIA Container Toolkit). CUDA's compiler is only in the stage that builds flash-attn.
# Every install step is a script the README and CI use too (scripts/install, scripts/setup.mjs).

ARG NODE_IMAGE=node:22-bookworm-slim

# The gateway, compiled, with production dependencies only.
FROM ${NODE_IMAGE} AS gateway
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json tsconfig.web.json ./
COPY src ./src
COPY routes ./routes
COPY web ./web
RUN npm run build && npm prune --omit=dev

# What both images run on: the Debian packages, a non-root user, the data and model volumes.
FROM ${NODE_IMAGE} AS base
COPY scripts/install /opt/voicecue/install
RUN /opt/voicecue/install/system.sh python3 python3-venv tini \
 && useradd --system --create-home --uid 10001 voicecue \
 && mkdir -p /data /models && chown voicecue /data /models
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 VOICECUE_DATA_DIR=/data HF_HOME=/models/hf TORCH_HOME=/models/torch NLTK_DATA=/models/nltk \
    VOICECUE_PYTHON=/opt/venv/bin/python PYTHONDONTWRITEBYTECODE=1
EXPOSE 8080
VOLUME ["/data", "/models"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM, so the gateway finishes its requests and stops the workers gracefully.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]

FROM base AS cpu
COPY worker-py ./worker-py
RUN /opt/voicecue/install/worker-python.sh /opt/venv cpu
COPY --from=gateway /app/node_modules ./node_modules
COPY --from=gateway /app/dist ./dist
COPY web ./web
COPY package.json openapi.yaml ./
ENV VOICECUE_GPU_WORKERS=0
USER voicecue

# requirements-gpu.txt and flash-attn, compiled with nvcc from NVIDIA's Debian 12 repository.
FROM base AS gpu-python
ARG CUDA_VERSION=12-8
ARG FLASH_ATTN_VERSION=2.8.3
ADD https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb /tmp/cuda-keyring.deb
RUN dpkg -i /tmp/cuda-keyring.deb && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential python3-dev ninja-build git cuda-nvcc-${CUDA_VERSION} cuda-cudart-dev-${CUDA_VERSION} \
      libcublas-dev-${CUDA_VERSION} libcusparse-dev-${CUDA_VERSION} libcusolver-dev-${CUDA_VERSION} \
 && rm -rf /var/lib/apt/lists/*
ENV CUDA_HOME=/usr/local/cuda PATH=/usr/local/cuda/bin:$PATH
COPY worker-py/requirements-gpu.txt worker-py/requirements.txt ./worker-py/
RUN FLASH_ATTN_VERSION=${FLASH_ATTN_VERSION} /opt/voicecue/install/worker-python.sh /opt/venv gpu

FROM base AS gpu
COPY --from=gpu-python /opt/venv /opt/venv
COPY worker-py ./worker-py
COPY --from=gateway /app/node_modules ./node_modules
COPY --from=gateway /app/dist ./dist
COPY web ./web
COPY package.json openapi.yaml ./
# Models load from /models (HF_HOME), the model-cache volume. Loading takes minutes: the health
# check's start period says so.
# Missing model files are fetched once, during warmup, before readiness (never inside a request).
ENV VOICECUE_DEFAULT_ENGINE=f5 VOICECUE_GPU_WORKERS=1 VOICECUE_ALLOW_DOWNLOADS=1
HEALTHCHECK --interval=10s --timeout=3s --start-period=600s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
USER voicecue
