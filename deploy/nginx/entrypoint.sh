#!/bin/sh
# Starts the proxy. The certificate is the operator's (tls.crt and tls.key in TLS_DIR) or, when
# there is none, a self-signed one made on first start for the host names and kept in the `tls`
# volume, made again only when the host names change. Then nginx.conf from its template.
set -eu

tls=${AVQA_TLS_DIR:-/etc/avqa/tls}
template=${AVQA_NGINX_TEMPLATE:-/etc/avqa/nginx.conf.template}
conf=${AVQA_NGINX_CONF:-/etc/nginx/nginx.conf}
hosts=${AVQA_HOSTNAMES:-localhost,127.0.0.1}
marker="$tls/self-signed-for"

self_signed() {
    names=""
    for host in $(echo "$hosts" | tr ',' ' '); do
        case "$host" in
            "*" | "") continue ;;                       # "any host": nothing to name
            .*) entry="DNS:*$host" ;;                   # Django's ".example.org" wildcard
            *:* | [0-9]*.[0-9]*.[0-9]*.[0-9]*) entry="IP:$(echo "$host" | tr -d '[]')" ;;
            *) entry="DNS:$host" ;;
        esac
        names="${names:+$names,}$entry"
    done
    first=$(echo "${names:-DNS:localhost}" | cut -d, -f1 | cut -d: -f2-)
    echo "avqa-proxy: no certificate in $tls; making a self-signed one for ${names:-DNS:localhost}"
    openssl req -x509 -newkey rsa:2048 -sha256 -days 825 -nodes -subj "/CN=$first" \
        -addext "subjectAltName=${names:-DNS:localhost}" \
        -keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null
    chmod 600 "$tls/tls.key"
    echo "$hosts" > "$marker"
}

if [ ! -s "$tls/tls.crt" ] || [ ! -s "$tls/tls.key" ]; then
    if ! touch "$tls/.writable" 2>/dev/null; then
        echo "avqa-proxy: $tls has no tls.crt and tls.key and is read-only (TLS_DIR);" \
            "put the certificate chain in tls.crt and its key in tls.key" >&2
        exit 1
    fi
    rm -f "$tls/.writable"
    self_signed
elif [ -f "$marker" ] && [ "$(cat "$marker")" != "$hosts" ]; then
    self_signed  # ours, made for other host names
fi

# https://host:PORT for the redirect when the published port is not 443.
if [ "${HTTPS_PORT:-443}" = 443 ]; then
    HTTPS_SUFFIX=""
else
    HTTPS_SUFFIX=":$HTTPS_PORT"
fi
export HTTPS_SUFFIX
export PROXY_BODY_MAX=${PROXY_BODY_MAX:-10m} PROXY_UPLOAD_MAX=${PROXY_UPLOAD_MAX:-1g}
export PROXY_UPSTREAM=${PROXY_UPSTREAM:-web:8000}
# Only these names are replaced: nginx's own $variables stay as they are.
envsubst '${HTTPS_SUFFIX} ${PROXY_BODY_MAX} ${PROXY_UPLOAD_MAX} ${PROXY_UPSTREAM}' \
    < "$template" > "$conf"
nginx -t -q -c "$conf"
exec "$@"
