#!/usr/bin/env bash
# make test-hw-kvm: runs the hardware-KVM (SVM) path of gvisor-rs inside a
# machine that QEMU emulates in software (TCG, -cpu max: an AMD CPU with svm
# and npt), on that machine's own /dev/kvm. See README.md ("Hardware KVM").
#
# Environment: HWKVM_CACHE (downloads, kept between runs; default
# target/hw-kvm-cache), HWKVM_TIMEOUT (seconds for the emulated machine,
# default 600), HWKVM_KEEP=1 (keep the work directory's initramfs tree),
# HWKVM_FILTER=PATTERN (run only the tests whose name matches; for debugging).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${HWKVM_CACHE:-$ROOT/target/hw-kvm-cache}
WORK=$ROOT/target/hw-kvm
TIMEOUT=${HWKVM_TIMEOUT:-600}
TARGET=x86_64-unknown-linux-gnu
SERIAL=$WORK/serial.log

die() { echo "test-hw-kvm: $*" >&2; exit 1; }
step() { echo "test-hw-kvm: $*"; }

mkdir -p "$CACHE" "$WORK"
start=$(date +%s)

# 1. Host packages: QEMU (software emulation only), cpio, busybox-static, ...
# (the hwkvm group of deploy/install-deps.sh; installed if missing, as root).
"$ROOT/deploy/install-deps.sh" hwkvm || die "missing host packages (above)"

# 2. A Debian cloud kernel, fetched and unpacked, never installed.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || die "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"
kdir=$CACHE/$pkg
if [ ! -d "$kdir/boot" ]; then
    step "downloading $pkg"
    rm -rf "$kdir" "$CACHE"/"$pkg"_*.deb
    (cd "$CACHE" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
    dpkg -x "$CACHE"/"$pkg"_*.deb "$kdir.tmp" || die "dpkg -x of $pkg failed"
    mv "$kdir.tmp" "$kdir"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $pkg"
kver=${vmlinuz##*/vmlinuz-}
mods=$kdir/lib/modules/$kver/kernel

# 3. Static builds of gvisor, the kvm-vcpu guest tests and the C test programs.
step "building static binaries"
export RUSTFLAGS="-C target-feature=+crt-static"
cargo build -q --target $TARGET -p shim --bin gvisor
guest_tests=$(cargo test -q --target $TARGET -p kvm-vcpu --test guest --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$guest_tests" ] || die "could not build the kvm-vcpu guest tests"
unset RUSTFLAGS

rootfs=$WORK/root
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,lib/modules,tests,proc,sys,dev,tmp}
cp /bin/busybox "$rootfs/bin/busybox"
# Without debug info: a smaller initramfs boots faster under emulation.
strip --strip-debug -o "$rootfs/bin/gvisor" "$ROOT/target/$TARGET/debug/gvisor"
strip --strip-debug -o "$rootfs/bin/kvm-guest-tests" "$guest_tests"
for c in "$ROOT"/tests/c/*.c; do
    gcc -static -no-pie -O1 -o "$rootfs/tests/$(basename "$c" .c)" "$c" || die "gcc -static $c failed"
done
cp /bin/true "$rootfs/tests/dynamic-elf"    # a dynamic ELF: never run, must be refused
cp "$ROOT/tests/hw-kvm/init" "$rootfs/init"
cp "$ROOT/tests/hw-kvm/lib.sh" "$rootfs/lib/hwkvm.sh"
cp "$ROOT/tests/hw-kvm/tests.list" "$rootfs/tests.list"
chmod +x "$rootfs/init"
for m in virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
    name=$(basename $m)
    if [ -f "$mods/$m.ko" ]; then cp "$mods/$m.ko" "$rootfs/lib/modules/$name.ko"
    elif [ -f "$mods/$m.ko.xz" ]; then xz -dc "$mods/$m.ko.xz" > "$rootfs/lib/modules/$name.ko"
    elif [ -f "$mods/$m.ko.zst" ]; then zstd -qdc "$mods/$m.ko.zst" > "$rootfs/lib/modules/$name.ko"
    elif [ "$name" != ccp ]; then die "module $m not found in $pkg"
    fi
done
(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
[ "${HWKVM_KEEP:-0}" = 1 ] || rm -rf "$rootfs"

# 4. Boot it; results come back on the serial console.
step "booting $kver under qemu-system-x86_64 -accel tcg -cpu max (serial log: $SERIAL)"
set +e
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 1 \
    -nographic -no-reboot -kernel "$vmlinuz" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 HWKVM_FILTER=${HWKVM_FILTER:-}" < /dev/null > "$SERIAL" 2>&1
qrc=$?
set -e
tr -d '\r' < "$SERIAL" > "$SERIAL.tmp" && mv "$SERIAL.tmp" "$SERIAL"

grep -E '^(HWKVM-BOOT|HWKVM-FATAL|HWKVM-INSMOD)' "$SERIAL" || true
grep -E '^HWKVM-RESULT|^  \| ' "$SERIAL" || true
want=$(grep -vE '^(#|$)' "$ROOT/tests/hw-kvm/tests.list" | cut -d'|' -f1 | grep -c "${HWKVM_FILTER:-}" || true)
pass=$(grep -c '^HWKVM-RESULT PASS' "$SERIAL" || true)
fail=$(grep -c '^HWKVM-RESULT FAIL' "$SERIAL" || true)
secs=$(( $(date +%s) - start ))
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
    die "the emulated machine did not finish within ${TIMEOUT}s ($pass passed, $fail failed so far); serial log: $SERIAL"
fi
grep -q '^HWKVM-DONE' "$SERIAL" || die "the emulated machine stopped before finishing (qemu exit $qrc); serial log: $SERIAL"
if [ "$fail" != 0 ] || [ "$pass" != "$want" ]; then
    die "$pass of $want passed, $fail failed (${secs}s); serial log: $SERIAL"
fi
step "all $pass tests passed on hardware KVM (SVM) in ${secs}s"
