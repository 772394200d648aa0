# The demo node image. Built FROM scratch: nothing is pulled from a hub.
ARG BASE=1.0
FROM scratch
ARG TAG=latest
ARG BASE
LABEL version=${TAG}
LABEL base=${BASE}
COPY app/node.txt /app/node.txt
