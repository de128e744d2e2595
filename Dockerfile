# The operator image. It also carries the agent runner (node + one JS bundle) under
# /opt/scaleswe, which each sandbox pod's init container copies into an emptyDir.
#
#   npm ci && docker build -t scaleswe/operator:0.1.0 .
#
# BASE_IMAGE: any glibc Debian/Ubuntu image (here: a local debootstrap base; elsewhere the
# public default). The Node binary is the one package.json pins (npm package `node`).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS bundle
WORKDIR /src
COPY node_modules/node/bin/node /usr/local/bin/node
COPY package.json tsconfig.json ./
COPY node_modules ./node_modules
COPY operator ./operator
COPY scripts/bundle.ts ./scripts/bundle.ts
RUN node scripts/bundle.ts --out /out \
 && mkdir -p /out/runner/bin \
 && cp /usr/local/bin/node /out/runner/bin/node \
 && cp -a /out/agent /out/runner/agent

FROM ${BASE_IMAGE}
# Mining a git source clones it: the operator itself needs git (and CAs for https remotes).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && git --version
LABEL org.opencontainers.image.title="scaleswe-operator" \
      org.opencontainers.image.description="ScaleSWE operator and sandbox agent runner"
COPY --from=bundle /out/runner /opt/scaleswe
COPY --from=bundle /out/operator /app
COPY --from=bundle /out/cli /app/cli
# The agent runner is readable and runnable by any sandbox uid.
RUN chmod -R a+rX /opt/scaleswe /app
USER 65532:65532
# HOME: git reads (and may write) config there; /tmp is the one writable path in the pod.
# MALLOC_ARENA_MAX: glibc gives each thread (libuv's pool, V8's workers) arenas of its own, up
# to 8 per core, which keep freed memory; two bound the operator's memory outside the V8 heap.
ENV NODE_ENV=production HOME=/tmp MALLOC_ARENA_MAX=2
EXPOSE 8080 8081
# A small young generation (4 MiB semi-spaces): the operator's live set is small and its
# allocations short-lived; V8's default lets garbage take ~90 MiB more RSS (bench/README.md).
ENTRYPOINT ["/opt/scaleswe/bin/node", "--max-semi-space-size=4", "/app/main.mjs"]
