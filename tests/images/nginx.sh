#!/bin/sh
# Builds an OCI image of the host's Debian nginx (nginx-light or nginx),
# without a registry:
#
#   tests/images/nginx.sh OUT.tar
#
# OUT.tar is an OCI archive (`ctr images import --base-name
# docker.io/library/nginx OUT.tar` names it docker.io/library/nginx:latest).
# Its rootfs: /usr/sbin/nginx and every library `ldd` lists (with the
# dynamic loader), /etc/nginx/nginx.conf (the default worker count, `auto`;
# error and access logs to /dev/stderr; port 80; the document root
# /usr/share/nginx/html, where a pod or `ctr run --mount` binds a host
# directory), mime.types, /etc/passwd and /etc/group with root, www-data and
# nobody, /var/lib/nginx, /var/log/nginx, /run and /tmp. The command is
# `nginx -g "daemon off;"`.
set -eu
out=$1
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "no nginx: apt-get install nginx-light (or nginx)" >&2; exit 1; }
command -v umoci >/dev/null || { echo "no umoci: apt-get install umoci" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/nginx-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/layout" >/dev/null
umoci new --image "$work/layout:latest" >/dev/null
umoci unpack --image "$work/layout:latest" "$work/bundle" >/dev/null
r="$work/bundle/rootfs"
mkdir -p "$r/usr/sbin" "$r/etc/nginx" "$r/var/lib/nginx" "$r/var/log/nginx" "$r/run" \
    "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/usr/share/nginx/html"
chmod 1777 "$r/tmp"
cp "$nginx" "$r/usr/sbin/nginx"
# The libraries, at the paths the loader looks them up (and the loader).
for lib in $(ldd "$nginx" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
done
# /lib64 -> usr/lib64 and similar on merged-/usr hosts: the loader's path
# must exist as ldd printed it, which the loop above made.
cp /etc/nginx/mime.types "$r/etc/nginx/mime.types"
cat > "$r/etc/nginx/nginx.conf" <<'CONF'
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /dev/stderr;
events {
    worker_connections 768;
}
http {
    sendfile on;
    tcp_nopush on;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stderr;
    client_body_temp_path /var/lib/nginx/body;
    proxy_temp_path /var/lib/nginx/proxy;
    fastcgi_temp_path /var/lib/nginx/fastcgi;
    uwsgi_temp_path /var/lib/nginx/uwsgi;
    scgi_temp_path /var/lib/nginx/scgi;
    server {
        listen 80 default_server;
        root /usr/share/nginx/html;
        index index.html;
    }
}
CONF
cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
P
cat > "$r/etc/group" <<'G'
root:x:0:
www-data:x:33:
nogroup:x:65534:
G
echo "passwd: files" > "$r/etc/nsswitch.conf"
echo "group: files" >> "$r/etc/nsswitch.conf"
echo "hello from the nginx image" > "$r/usr/share/nginx/html/index.html"
umoci repack --image "$work/layout:latest" "$work/bundle" >/dev/null
umoci config --image "$work/layout:latest" --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --config.exposedports 80/tcp \
    --config.cmd /usr/sbin/nginx --config.cmd -g --config.cmd "daemon off;" >/dev/null
mkdir -p "$(dirname "$out")"
tar -C "$work/layout" -cf "$out.tmp" .
mv "$out.tmp" "$out"
