# Network mode host across the sandbox boundary, run (as root) inside a
# network namespace of its own with lo up: a sandboxed Python http.server
# reached by the host's curl, and a host http.server reached by a
# sandboxed busybox wget. $1: the gvisor binary, $2: busybox, $3: scratch dir.
set -e
G=$1; BB=$2; D=$3
mkdir -p $D/in $D/out
echo "served from the sandbox" > $D/in/index.html
echo "served from the host" > $D/out/index.html
wait_http() {
    i=0
    until curl -s -m 2 -o /dev/null http://127.0.0.1:$1/; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "port $1 never answered"; exit 1; }
        sleep 0.1
    done
}
$G do --network=host -- /usr/bin/python3 -m http.server 18181 --bind 127.0.0.1 --directory $D/in >$D/sandboxed.log 2>&1 &
sb=$!
/usr/bin/python3 -m http.server 18182 --bind 127.0.0.1 --directory $D/out >$D/native.log 2>&1 &
nt=$!
trap 'kill $sb $nt 2>/dev/null || true' EXIT
wait_http 18181
wait_http 18182
echo "host curl: $(curl -s -m 5 http://127.0.0.1:18181/index.html)"
echo "sandboxed wget: $($G do --network=host -- $BB wget -q -O - http://127.0.0.1:18182/index.html)"
echo "sandboxed wget of sandboxed server: $($G do --network=host -- $BB wget -q -O - http://127.0.0.1:18181/index.html)"
