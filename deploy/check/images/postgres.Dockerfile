# Test-only stand-in for postgres:17, from Debian bookworm's PostgreSQL 15: the same
# environment (POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE), data
# folder, port and pg_isready as the official image.
ARG BASE=avqa-check/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
