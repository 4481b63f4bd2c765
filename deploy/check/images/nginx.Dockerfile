# Test-only stand-in for nginx:1.27, from Debian bookworm's nginx 1.22: the same binary name,
# configuration folder and stop signal as the official image.
ARG BASE=avqa-check/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-core \
    && rm -rf /var/lib/apt/lists/*
STOPSIGNAL SIGQUIT
EXPOSE 80
CMD ["nginx", "-g", "daemon off;"]
