# Debian's nginx serving a static file on 127.0.0.1, fetched by a client in the same
# network (busybox wget). Run with busybox sh; $1 is a scratch directory.
set -e
bb=/bin/busybox
d=${1:-/tmp/nginx-test}
mkdir -p $d/www $d/tmp
echo "static file served by nginx" > $d/www/index.html
head -c 300000 /dev/zero | tr '\0' 'n' > $d/www/big.txt
cat > $d/nginx.conf <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid $d/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:18090;
        root $d/www;
    }
}
CONF
/usr/sbin/nginx -p $d -c $d/nginx.conf &
ng=$!
i=0
until $bb wget -q -O $d/got http://127.0.0.1:18090/index.html 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "nginx never answered"; exit 1; }
    $bb usleep 50000
done
echo "index: $(cat $d/got)"
$bb wget -q -O $d/big http://127.0.0.1:18090/big.txt
echo "big: $($bb wc -c < $d/big) bytes, $($bb md5sum < $d/big)"
$bb wget -q -O - http://127.0.0.1:18090/nope 2>/dev/null || echo "missing: 404 as expected"
kill $ng
wait $ng 2>/dev/null || true
echo "nginx stopped"
