#!/bin/sh
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no "$@"
fi
if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data
    exec runuser -u redis -- "$@"
fi
exec "$@"
