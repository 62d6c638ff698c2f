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
# umoci from the host's busybox-static; no registry is used).
set -eu
cmd=$1
dir=$2

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

case "$cmd" in
start)
    bindir=$3
    mkdir -p "$dir/images" "$dir/root" "$dir/state"
    image busybox /bin/sh
    image pause /bin/sleep 1000000
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
    bin_dir = "$dir/cni-bin"
    conf_dir = "$dir/cni-conf"
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
    for ns in default k8s.io; do
        for img in busybox pause; do
            ctr -a "$dir/containerd.sock" -n $ns images import \
                --base-name docker.io/library/$img "$dir/images/$img.tar" >/dev/null
        done
    done
    ;;
stop)
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
    rm -rf "$dir/root" "$dir/state"
    ;;
*)
    echo "usage: env.sh start DIR BINDIR | stop DIR" >&2
    exit 2
    ;;
esac
