# Debian's nginx in `gvisor do --network=host`, its default worker count
# and master process, serving a static file to the host's curl. Run as root
# inside a network namespace of its own with lo up. $1: the gvisor binary,
# $2: scratch dir.
set -e
G=$1; d=$2
mkdir -p $d/www $d/tmp
echo "static file served by nginx" > $d/www/index.html
head -c 300000 /dev/zero | tr '\0' 'n' > $d/www/big.txt
cat > $d/nginx.conf <<CONF
daemon off;
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
        listen 127.0.0.1:18190;
        root $d/www;
    }
}
CONF
$G do --network=host -- /usr/sbin/nginx -p $d -c $d/nginx.conf >$d/nginx.log 2>&1 &
ng=$!
trap 'kill $ng 2>/dev/null || true' EXIT
i=0
until curl -s -m 2 -o $d/got http://127.0.0.1:18190/index.html; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "nginx never answered"; cat $d/nginx.log; exit 1; }
    sleep 0.1
done
echo "index: $(cat $d/got)"
curl -s -m 10 -o $d/big http://127.0.0.1:18190/big.txt
echo "big: $(wc -c < $d/big) bytes, $(md5sum < $d/big | cut -c1-32)"
echo "missing: $(curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:18190/nope)"
echo "keepalive: $(curl -s -m 10 http://127.0.0.1:18190/index.html http://127.0.0.1:18190/index.html | wc -l) lines"
