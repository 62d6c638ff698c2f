#!/bin/sh
# A private containerd for the end-to-end tests and benchmarks.
#
#   env.sh start DIR BINDIR   builds the images (once), writes DIR/config.toml,
#                             starts containerd with BINDIR first on PATH (so it
#                             finds containerd-shim-gvisor-v1 and gvisor) and
#                             imports the images; prints nothing on success.
#   env.sh stop DIR           stops that containerd and removes what it left.
#
# DIR gets: containerd.sock, root/, state/, config.toml, gvisor.toml,
# containerd.log, images/ (busybox.tar, pause.tar: OCI archives built with
# umoci from the host's busybox-static; no registry is used), cni-conf/ (the
# CRI plugin's CNI conflist: bridge + host-local + portmap, then loopback;
# plugins from Debian's containernetworking-plugins in /usr/lib/cni) and
# cni-ipam/ (host-local's allocations). Nothing under /etc is touched.
#
# The CNI network, its bridge and its subnet come from the environment so
# that parallel containerds do not share them:
#   GVISOR_CNI_BRIDGE  bridge and network name (default gvisor-test0)
#   GVISOR_CNI_SUBNET  the pods' /24, as A.B.C (default 10.213.77)
# `stop` removes what CNI left behind for pods that were not stopped: their
# network namespaces, the iptables rules and chains naming the network, and
# the bridge.
set -eu
cmd=$1
dir=$2
bridge=${GVISOR_CNI_BRIDGE:-gvisor-test0}
subnet=${GVISOR_CNI_SUBNET:-10.213.77}

image() {
    # image NAME CMD...: an OCI archive whose rootfs is busybox plus links.
    name=$1; shift
    out="$dir/images/$name.tar"
    [ -f "$out" ] && return 0
    work="$dir/images/$name.work"
    rm -rf "$work"
    mkdir -p "$work"
    umoci init --layout "$work/layout" >/dev/null
    umoci new --image "$work/layout:latest" >/dev/null
    umoci unpack --rootless --image "$work/layout:latest" "$work/bundle" >/dev/null 2>&1 || \
        umoci unpack --image "$work/layout:latest" "$work/bundle" >/dev/null
    r="$work/bundle/rootfs"
    mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/root" "$r/data"
    cp /bin/busybox "$r/bin/busybox"
    for a in sh echo cat true false sleep ls ps id env printf test tty stty \
             uname hostname wc head sync kill mkdir rm touch seq yes pwd; do
        ln -sf busybox "$r/bin/$a"
    done
    echo "root:x:0:0:root:/root:/bin/sh" > "$r/etc/passwd"
    echo "root:x:0:" > "$r/etc/group"
    umoci repack --image "$work/layout:latest" "$work/bundle" >/dev/null
    cmdflags=""
    for c in "$@"; do cmdflags="$cmdflags --config.cmd $c"; done
    # shellcheck disable=SC2086 # one flag per word of the command
    umoci config --image "$work/layout:latest" --config.env PATH=/bin $cmdflags >/dev/null
    tar -C "$work/layout" -cf "$out" .
    rm -rf "$work"
}

# What CNI left for pods that were never stopped (a failed test): their
# network namespaces (named in the sandboxes' bundles), the nat rules whose
# comment names the network with the chains they jump to, and the bridge.
cni_cleanup() {
    [ -f "$dir/cni-bridge" ] || return 0
    net=$(cat "$dir/cni-bridge")
    for ns in $netns_left; do
        ip netns del "${ns##*/}" 2>/dev/null || { umount "$ns" 2>/dev/null; rm -f "$ns"; } || true
    done
    if command -v iptables >/dev/null 2>&1; then
        ours=$(iptables -t nat -S 2>/dev/null | grep -F "name: \\\"$net\\\"" || true)
        chains=$(printf '%s\n' "$ours" | sed -n 's/.* -j \(CNI-[A-Za-z0-9-]*\).*/\1/p' | sort -u)
        printf '%s\n' "$ours" | while read -r line; do
            [ -n "$line" ] || continue
            eval "iptables -t nat -D ${line#-A }" 2>/dev/null || true
        done
        for c in $chains; do
            case "$c" in CNI-HOSTPORT-*) continue ;; esac
            iptables -t nat -F "$c" 2>/dev/null || true
            iptables -t nat -X "$c" 2>/dev/null || true
        done
    fi
    ip link del "$net" 2>/dev/null || true
}

case "$cmd" in
start)
    bindir=$3
    mkdir -p "$dir/images" "$dir/root" "$dir/state"
    image busybox /bin/sh
    image pause /bin/sleep 1000000
    mkdir -p "$dir/cni-conf" "$dir/cni-ipam"
    echo "$bridge" > "$dir/cni-bridge"
    cat > "$dir/cni-conf/10-gvisor-test.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "$bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni-ipam",
        "ranges": [[{"subnet": "$subnet.0/24", "gateway": "$subnet.1"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
JSON
    cat > "$dir/gvisor.toml" <<TOML
platform = "kvm"
debug = false
TOML
    cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/pause:latest"
  disable_apparmor = true
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni-conf"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.gvisor]
      runtime_type = "io.containerd.gvisor.v1"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.gvisor.options]
        TypeUrl = "io.containerd.gvisor.v1.options"
        ConfigPath = "$dir/gvisor.toml"
TOML
    PATH="$bindir:$PATH" GVISOR_CONFIG="$dir/gvisor.toml" \
        nohup containerd --config "$dir/config.toml" > "$dir/containerd.log" 2>&1 &
    echo $! > "$dir/containerd.pid"
    i=0
    until ctr -a "$dir/containerd.sock" version >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 150 ]; then
            echo "containerd did not come up; its log:" >&2
            tail -n 30 "$dir/containerd.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    # The CRI plugin learns of images from containerd's events once it has recovered its
    # state: an image imported before that ("Start event monitor" in the log) can stay
    # unknown to it, and a pod then tries to pull the pause image from the network.
    i=0
    until grep -q "Start event monitor" "$dir/containerd.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 150 ] && break
        sleep 0.1
    done
    for ns in default k8s.io; do
        for img in busybox pause; do
            ctr -a "$dir/containerd.sock" -n $ns images import \
                --base-name docker.io/library/$img "$dir/images/$img.tar" >/dev/null
        done
    done
    ;;
stop)
    # The network namespaces CNI made for pods still there (named in their
    # sandboxes' bundles, which go with the tasks).
    netns_left=$(cat "$dir"/state/io.containerd.runtime.v2.task/*/*/config.json 2>/dev/null |
        grep -o '"/var/run/netns/cni-[0-9a-f-]*"' | tr -d '"' | sort -u || true)
    # Every task still running (a failed test's pods and containers, runc's
    # too) is killed through containerd first, so that nothing outlives it.
    if [ -S "$dir/containerd.sock" ]; then
        for ns in default k8s.io; do
            for t in $(ctr -a "$dir/containerd.sock" -n $ns tasks ls -q 2>/dev/null); do
                ctr -a "$dir/containerd.sock" -n $ns tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
            done
            for t in $(ctr -a "$dir/containerd.sock" -n $ns tasks ls -q 2>/dev/null); do
                ctr -a "$dir/containerd.sock" -n $ns tasks delete -f "$t" >/dev/null 2>&1 || true
            done
        done
    fi
    if [ -f "$dir/containerd.pid" ]; then
        pid=$(cat "$dir/containerd.pid")
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/containerd.pid"
    fi
    # Shims outlive containerd by design: those of this one go now (their
    # sandboxes die with them), with their sockets.
    for p in /proc/[0-9]*; do
        # 2>/dev/null before the < : a process that exited since the glob
        # was expanded has no cmdline, and the shell reports a failed
        # redirection on the stderr in force when it opens it.
        c=$(tr '\0' ' ' 2>/dev/null < "$p/cmdline" || true)
        case "$c" in
        *containerd-shim-gvisor-v1*"-address $dir/containerd.sock "*)
            kill -9 "${p#/proc/}" 2>/dev/null || true
            s=${c##*-socket unix://}
            rm -f "${s%% *}"
            ;;
        esac
    done
    # Mounts left under the root (snapshots, bundles) go before the files.
    grep -o " $dir/[^ ]*" /proc/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    cni_cleanup
    rm -rf "$dir/root" "$dir/state" "$dir/cni-ipam"
    rm -f "$dir/cni-bridge"
    ;;
*)
    echo "usage: env.sh start DIR BINDIR | stop DIR" >&2
    exit 2
    ;;
esac
