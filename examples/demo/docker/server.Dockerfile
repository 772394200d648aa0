# The demo server image. Built FROM scratch: nothing is pulled from a hub.
ARG BASE=1.0
FROM scratch
ARG TAG=latest
LABEL version=${TAG}
COPY app/server.txt /app/server.txt
