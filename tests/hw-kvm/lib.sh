# Helpers for tests.list, sourced by every test command inside the emulated machine.

# The backend every sandboxed run must report here.
HWKVM_BACKEND=${HWKVM_BACKEND:-hardware}

# run_sandboxed OUTFILE PROG ARGS...: runs PROG under `gvisor do --stats`,
# stdout to OUTFILE, returns its exit status; fails unless the run reports the
# expected backend.
run_sandboxed() {
    out=$1; shift
    /bin/gvisor do --stats -- "$@" > "$out" 2> /tmp/sb.err
    rc=$?
    if ! grep -q "gvisor-stats: backend=$HWKVM_BACKEND " /tmp/sb.err; then
        echo "expected backend=$HWKVM_BACKEND; stderr was:"; cat /tmp/sb.err
        return 99
    fi
    grep "gvisor-stats" /tmp/sb.err
    return $rc
}

# same_as_native PROG ARGS...: stdout and exit status equal to the native run
# (lines matching $HWKVM_IGNORE, if set, are left out of the comparison).
same_as_native() {
    "$@" > /tmp/native.out 2>/dev/null
    nrc=$?
    run_sandboxed /tmp/sandbox.out "$@"
    src=$?
    [ "$src" = 99 ] && return 1
    if [ -n "${HWKVM_IGNORE:-}" ]; then
        grep -v "$HWKVM_IGNORE" /tmp/native.out > /tmp/native.f; mv /tmp/native.f /tmp/native.out
        grep -v "$HWKVM_IGNORE" /tmp/sandbox.out > /tmp/sandbox.f; mv /tmp/sandbox.f /tmp/sandbox.out
    fi
    if [ "$nrc" != "$src" ]; then
        echo "exit status: native $nrc, sandboxed $src"; cat /tmp/sb.err; return 1
    fi
    if ! cmp -s /tmp/native.out /tmp/sandbox.out; then
        echo "stdout differs:"; diff /tmp/native.out /tmp/sandbox.out | head -20; return 1
    fi
    return 0
}

# expect_exit CODE PROG ARGS...: the sandboxed run exits with CODE.
expect_exit() {
    want=$1; shift
    run_sandboxed /tmp/sandbox.out "$@"
    rc=$?
    [ "$rc" = 99 ] && return 1
    if [ "$rc" != "$want" ]; then
        echo "exit status $rc, want $want"; cat /tmp/sb.err; return 1
    fi
    return 0
}
