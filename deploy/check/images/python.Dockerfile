# Test-only stand-in for python:3.11-slim, built from Debian's packages (deploy-check has no
# image registry): Debian bookworm's Python is 3.11 too. pip installs from the wheels that
# deploy-check downloaded on the host, never from the network.
ARG BASE=avqa-check/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local/python
COPY wheels /wheels
ENV PATH=/usr/local/python/bin:$PATH \
    PIP_NO_INDEX=1 \
    PIP_FIND_LINKS=/wheels
