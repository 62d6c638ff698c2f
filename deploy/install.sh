#!/bin/sh
# install.sh install|uninstall SRC_BINDIR — what `make install` / `make uninstall` run.
# DESTDIR (staging root) and PREFIX (default /usr/local) come from the environment.
set -eu
action=$1
src=${2:-target/release}
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}
here=$(cd "$(dirname "$0")" && pwd)
bindir="$dest$prefix/bin"
etc="$dest/etc/containerd"
marker="# created by gvisor-rs make install"

case "$action" in
install)
    for b in gvisor containerd-shim-gvisor-v1; do
        [ -x "$src/$b" ] || { echo "install: $src/$b is missing (build it first)" >&2; exit 1; }
    done
    mkdir -p "$bindir" "$etc/conf.d"
    install -m 0755 "$src/gvisor" "$src/containerd-shim-gvisor-v1" "$bindir/"
    install -m 0644 "$here/containerd-gvisor.toml" "$etc/conf.d/gvisor.toml"
    # Keep an options file the admin has edited.
    [ -e "$etc/gvisor.toml" ] || install -m 0644 "$here/gvisor.toml" "$etc/gvisor.toml"
    if [ ! -e "$etc/config.toml" ]; then
        printf '%s\nversion = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n' "$marker" > "$etc/config.toml"
    elif ! grep -q 'conf.d/\*.toml' "$etc/config.toml"; then
        echo "note: add  imports = [\"/etc/containerd/conf.d/*.toml\"]  to $etc/config.toml and restart containerd (for the CRI runtime handler 'gvisor')" >&2
    fi
    echo "installed: $bindir/gvisor $bindir/containerd-shim-gvisor-v1 $etc/conf.d/gvisor.toml $etc/gvisor.toml"
    ;;
uninstall)
    rm -f "$bindir/gvisor" "$bindir/containerd-shim-gvisor-v1" "$etc/conf.d/gvisor.toml" "$etc/gvisor.toml"
    rmdir "$etc/conf.d" 2>/dev/null || true
    if [ -e "$etc/config.toml" ] && head -n 1 "$etc/config.toml" | grep -qx "$marker"; then
        rm -f "$etc/config.toml"
    fi
    echo "removed gvisor-rs from $dest$prefix and $etc"
    ;;
*)
    echo "usage: install.sh install|uninstall [SRC_BINDIR]" >&2
    exit 2
    ;;
esac
