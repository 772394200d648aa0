# The demo agent image, for linux/amd64 and linux/arm64: buildah builds one image per
# platform and pushes them as one OCI image index. FROM scratch with no RUN: no base
# image is pulled and no QEMU is needed.
ARG BASE=1.0
FROM scratch
ARG TAG=latest
ARG TARGETPLATFORM
LABEL version=${TAG}
LABEL platform=${TARGETPLATFORM}
COPY app/agent.txt /app/agent.txt
