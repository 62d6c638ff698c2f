#!/usr/bin/env bash
# What each make target needs from the machine, in one place:
#
#   deploy/install-deps.sh GROUP     (shim, build, sandbox, run, hwkvm or test)
#
# checks the Debian packages of GROUP (and of the groups it includes), the
# Rust toolchain and, for the groups that run sandboxes, /dev/kvm. Missing
# packages are installed with apt-get (update, then install
# --no-install-recommends) when running as root; otherwise it fails at once
# naming them. Prints nothing when everything is there. The Makefile calls it
# as `make deps-GROUP` before its targets (make build-shim: shim, make build:
# build, make run-sandbox: sandbox, make run: run, make test: test) and
# .ci/run calls it with `test`.
#
#   shim     the gvisor and containerd-shim binaries (cargo build -p shim)
#   build    the whole workspace (cargo build --workspace; the tests' CRI
#            client is generated with protoc)
#   sandbox  shim + running programs in a sandbox (busybox-static, /dev/kvm)
#   run      sandbox + a private containerd (make run, make containerd-up,
#            make bench)
#   hwkvm    shim + the hardware-KVM tests in QEMU (make test-hw-kvm; no
#            /dev/kvm needed on the host)
#   test     everything make test runs (build, run, hwkvm, the integration
#            tests' programs, clippy, rustfmt)
set -euo pipefail

me=deploy/install-deps.sh
die() { echo "$me: $*" >&2; exit 1; }

# One row per Debian package: the package, how to tell it is there (a
# command on PATH, an absolute path, or dpkg:NAME for an installed package),
# the smallest groups that need it (comma-separated), and why.
PACKAGES='
gcc               gcc                                 shim          the linker of cargo builds; tests/c/*.c (gcc -static)
libc6-dev         /usr/lib/x86_64-linux-gnu/libc.a    shim          libc for linking; the static libc of gcc -static
ca-certificates   /etc/ssl/certs/ca-certificates.crt  shim          cargo fetching crates over https
protobuf-compiler protoc                              build         protoc: the tests crate generates its CRI client (k8s-cri)
busybox-static    dpkg:busybox-static                 sandbox,hwkvm /bin/busybox (static): the examples, the tests, the images env.sh builds
containerd        containerd                          run           containerd and ctr: make run, tests/containerd.rs, tests/cri.rs
runc              runc                                run           the runc runtime of that containerd (the benchmark compares with it)
umoci             umoci                               run           builds the busybox, pause and nginx images (tests/containerd/env.sh, tests/images/nginx.sh)
containernetworking-plugins /usr/lib/cni/bridge        run           the CNI plugins of the private containerd (bridge, host-local, portmap, loopback) and of tests/podman.rs (its own CNI network, firewall)
iptables          iptables                            run           CNI portmap and ipMasq rules; the DNAT of the nginx study and make bench
nginx             /usr/sbin/nginx                     run           the nginx of the study image (tests/images/nginx.sh) and of make bench; tests/sockets_apps.rs
wrk               wrk                                 run           make bench: the nginx comparison
strace            strace                              run           make bench: system calls per nginx request (strace -c -f); tests/profile.rs, make study
jq                jq                                  run           make study: reads the --profile JSON
curl              curl                                test          tests/nginx_study.rs: curl from the host to nginx in a container; tests/podman.rs, tests/docker.rs
podman            podman                              test          tests/podman.rs: podman 4.3 (with conmon, CNI) runs containers with runc or gvisor as the OCI runtime
docker.io         /usr/sbin/dockerd                   test          tests/docker.rs: a private dockerd (containerd-shim-runc-v2 calls the runtime named in daemon.json)
make              make                                test          make test
coreutils         /usr/bin/sha256sum                  test          dynamically linked programs the tests run (/bin/true, sha256sum, ...)
python3           /usr/bin/python3                    test          tests/process.rs and tests/containerd.rs run Python; tests/scripts/e2e_pty.py gives podman and docker -it a terminal
tar               tar                                 test          tests/scripts/coreutils.sh
gzip              gzip                                test,hwkvm    tests/scripts/coreutils.sh; the hardware-KVM initramfs
findutils         find                                test,hwkvm    tests/scripts/coreutils.sh; the hardware-KVM initramfs
iproute2          /usr/sbin/ip                        test          native runs of the socket tests (unshare -n, then ip link set lo up); tests/sockets_netlink.rs compares ip
procps            free                                test          tests/robust_mm.rs compares free with busybox free
libcap2-bin       /usr/sbin/capsh                     test          tests/foundation.rs: the native run of the clock-setting test drops CAP_SYS_TIME with capsh
man-db            /usr/bin/man                        test          tests/seccomp_filter.rs: man formats a page under its own libseccomp filter in the sandbox
binutils          strip                               hwkvm         the hardware-KVM initramfs carries stripped binaries
qemu-system-x86   qemu-system-x86_64                  hwkvm         make test-hw-kvm boots an emulated AMD machine
cpio              cpio                                hwkvm         the hardware-KVM initramfs
xz-utils          xz                                  hwkvm         unpacking the kvm modules of the hardware-KVM kernel
'

usage() {
    echo "usage: $me shim|build|sandbox|run|hwkvm|test" >&2
    exit 2
}
[ $# -eq 1 ] || usage
case "$1" in
shim) groups="shim" ;;
build) groups="shim build" ;;
sandbox) groups="shim sandbox" ;;
run) groups="shim sandbox run" ;;
hwkvm) groups="shim hwkvm" ;;
test) groups="shim build sandbox run hwkvm test" ;;
*) usage ;;
esac
# want G[,G...]: one of them is among the groups asked for.
want() {
    local g
    for g in ${1//,/ }; do
        case " $groups " in *" $g "*) return 0 ;; esac
    done
    return 1
}

present() {
    case "$1" in
    dpkg:*)
        if command -v dpkg-query >/dev/null 2>&1; then
            dpkg-query -W -f='${Status}' "${1#dpkg:}" 2>/dev/null | grep -q ' installed$'
        else
            [ -x /bin/busybox ]
        fi
        ;;
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
while read -r pkg probe group _why; do
    [ -n "$pkg" ] || continue
    want "$group" || continue
    present "$probe" || missing+=("$pkg")
done <<<"$PACKAGES"

# make test-hw-kvm fetches the cloud kernel with apt-get download: it needs
# apt's package lists (absent on a fresh or cleaned image).
need_update=0
if want hwkvm && command -v apt-get >/dev/null 2>&1 &&
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    need_update=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        [ ${#missing[@]} -gt 0 ] || die "apt's package lists are empty: run apt-get update as root"
        die "missing Debian packages: ${missing[*]}; install them as root: apt-get update && apt-get install --no-install-recommends ${missing[*]} (or run this make target as root)"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages: ${missing[*]}, and there is no apt-get to install them (a Debian or Ubuntu machine is expected)"
    [ ${#missing[@]} -eq 0 ] || echo "$me: installing ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
            die "apt-get install ${missing[*]} failed"
        while read -r pkg probe group _why; do
            [ -n "$pkg" ] || continue
            want "$group" || continue
            present "$probe" || die "$pkg is installed but ${probe#dpkg:} is still missing"
        done <<<"$PACKAGES"
    fi
fi

# The Rust toolchain (stable, through rustup: Debian's rustc is too old).
cargo=${CARGO:-cargo}
if ! command -v "$cargo" >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        die "$cargo is not on PATH, but $HOME/.cargo/bin/cargo exists: run '. \$HOME/.cargo/env' (or add $HOME/.cargo/bin to PATH)"
    fi
    die "no $cargo: install the Rust toolchain (stable) with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt; then '. \$HOME/.cargo/env'"
fi
# make test also runs clippy and rustfmt.
if want test; then
    for component in clippy rustfmt; do
        sub=${component/rustfmt/fmt}
        "$cargo" "$sub" --version >/dev/null 2>&1 && continue
        command -v rustup >/dev/null 2>&1 ||
            die "cargo $sub is missing and there is no rustup to add it (rustup component add $component)"
        echo "$me: rustup component add $component"
        rustup component add "$component" || die "rustup component add $component failed"
    done
fi

# Sandboxes run on KVM.
if want sandbox; then
    [ -e /dev/kvm ] ||
        die "/dev/kvm does not exist: this machine has no KVM (enable virtualization / nested virtualization, or load kvm_intel/kvm_amd)"
    [ -r /dev/kvm ] && [ -w /dev/kvm ] ||
        die "/dev/kvm exists but is not readable and writable by $(id -un)"
fi
exit 0
