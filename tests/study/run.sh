#!/bin/sh
# The gVisor study's measurements (docs/STUDY.md) with this tree's tools:
#
#   tests/study/run.sh [OUT_DIR]          (or: make study)
#
# 1. nginx (tests/images/nginx.sh, unpacked with umoci) under `gvisor run
#    --network=sandbox --profile=nginx.json` in a network namespace made
#    here (a veth pair to the host), curled REQUESTS times (default 100, as
#    the study), then stopped with SIGQUIT (nginx's graceful stop): distinct
#    app→sentry system calls, and the host system calls of the sentry and of
#    the gofer during the run (the profile's ftrace sections);
# 2. the same nginx run natively under `strace -f -c` (chroot into the same
#    root, same namespace, same requests): what Linux sees;
# 3. a baseline: `ls /` under `gvisor do --profile` and under `strace -f -c`.
#
# Prints a Markdown table (pasted into docs/STUDY.md) and leaves the
# profiles (JSON and the strace -c summaries) in OUT_DIR. Needs root, /dev/kvm,
# tracefs, nginx, umoci, strace, curl, jq and the gvisor binary (GVISOR_BIN,
# default target/debug/gvisor).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
gvisor=${GVISOR_BIN:-$root/target/debug/gvisor}
requests=${REQUESTS:-100}
out=${1:-$root/target/study}
for t in nginx umoci strace curl jq ip; do
    command -v "$t" >/dev/null || { echo "study: $t is missing" >&2; exit 1; }
done
[ -x "$gvisor" ] || { echo "study: no gvisor binary at $gvisor (cargo build -p shim)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "study: needs root (namespaces, KVM, tracefs)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/gvisor-study.XXXXXX)
ns=gvstudy-$$
hif=gvs$(($$ % 100000))
sub=$(($$ % 200 + 20))
host_ip=10.213.$sub.1
ns_ip=10.213.$sub.2
cleanup() {
    [ -n "${run_pid:-}" ] && kill -KILL "$run_pid" 2>/dev/null || true
    [ -n "${native_pid:-}" ] && kill -KILL "$native_pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$hif" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The image and its bundle. umoci's config.json is replaced by a small one
# joining the study's network namespace.
sh "$root/tests/images/nginx.sh" "$work/nginx.tar"
mkdir "$work/layout"
tar -C "$work/layout" -xf "$work/nginx.tar"
umoci unpack --image "$work/layout:latest" "$work/bundle" >/dev/null
echo "served by the study" > "$work/bundle/rootfs/usr/share/nginx/html/index.html"
cat > "$work/bundle/config.json" <<EOF
{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
 "process": {"args": ["/usr/sbin/nginx", "-g", "daemon off;"], "cwd": "/",
             "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "user": {"uid": 0, "gid": 0}},
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"},
                          {"type": "network", "path": "/var/run/netns/$ns"}]}}
EOF

ip netns add "$ns"
ip link add "$hif" type veth peer name "${hif}c"
ip link set "${hif}c" netns "$ns"
ip -n "$ns" link set "${hif}c" name eth0
ip addr add "$host_ip/30" dev "$hif"
ip link set "$hif" up
ip -n "$ns" addr add "$ns_ip/30" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up

# Waits until nginx answers, then sends the requests.
serve() {
    i=0
    until curl -sf --max-time 2 "http://$ns_ip/" >/dev/null; do
        i=$((i + 1))
        [ $i -lt 150 ] || { echo "study: nginx did not answer on $ns_ip:80 ($1)" >&2; return 1; }
        sleep 0.2
    done
    i=0
    while [ $i -lt "$requests" ]; do
        curl -sf --max-time 5 "http://$ns_ip/" >/dev/null
        i=$((i + 1))
    done
}

# 1. nginx in gvisor-rs.
"$gvisor" run --network=sandbox --profile="$out/nginx.json" --bundle "$work/bundle" \
    "study-nginx-$$" >"$out/nginx-gvisor.log" 2>&1 &
run_pid=$!
serve gvisor
kill -QUIT "$run_pid"
wait "$run_pid" || true
run_pid=

# 2. The same nginx natively, under strace -f -c (chroot into the same
#    root: the summary also counts chroot's few calls before its execve).
ip netns exec "$ns" strace -f -c -o "$out/nginx-native.strace" \
    chroot "$work/bundle/rootfs" /usr/sbin/nginx -g "daemon off;" \
    >"$out/nginx-native.log" 2>&1 &
native_pid=$!
serve native
kill -QUIT "$(cat "$work/bundle/rootfs/run/nginx.pid")"
wait "$native_pid" || true
native_pid=

# 3. The baseline.
"$gvisor" do --profile="$out/ls.json" -- /bin/ls / >/dev/null
strace -f -c -o "$out/ls-native.strace" /bin/ls / >/dev/null

# Distinct names in a strace -c summary (the rows between the rules).
strace_distinct() {
    awk '/^-/ {rule++; next} rule == 1 && NF {print $NF}' "$1" | sort -u | wc -l
}
# A profile's distinct count, or its section's reason for having none.
field() {
    jq -r "if .$2.unavailable then \"n/a (\" + .$2.unavailable + \")\" else .$2.distinct end" "$1"
}

echo "| workload | app → kernel, Linux (strace -f -c) | app → sentry (gvisor-rs) | sentry → host | gofer → host | study (runsc, KVM) |"
echo "|---|---:|---:|---:|---:|---|"
echo "| nginx, $requests requests, stopped | $(strace_distinct "$out/nginx-native.strace") | $(jq .app.total.distinct "$out/nginx.json") | $(field "$out/nginx.json" sentry_host) | $(field "$out/nginx.json" gofer_host) | app → sentry 61; sandbox → host 22–24 |"
echo "| ls / | $(strace_distinct "$out/ls-native.strace") | $(jq .app.total.distinct "$out/ls.json") | $(field "$out/ls.json" sentry_host) | $(field "$out/ls.json" gofer_host) | – |"
echo
echo "nginx: $(jq .app.total.calls "$out/nginx.json") app calls; sentry → host: $(jq -r '[.sentry_host.syscalls[].name] | join(", ")' "$out/nginx.json")"
echo "gofer → host: $(jq -r '[.gofer_host.syscalls[].name] | join(", ")' "$out/nginx.json")"
echo "profiles and summaries: $out"
