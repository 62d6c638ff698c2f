# gvisor-rs developer targets. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
GVISOR_BIN ?= $(CURDIR)/target/debug/gvisor

PREFIX ?= /usr/local
# Where `make install` takes the binaries from (the release build by default).
INSTALL_FROM ?= $(CURDIR)/target/release

.PHONY: all build build-shim test test-hw-kvm fuzz bench run run-sandbox install uninstall clean

all: build

build:
	$(CARGO) build --workspace

# Only the binaries (gvisor, containerd-shim-gvisor-v1): no test-only
# dependencies (the CRI client needs protoc).
build-shim:
	$(CARGO) build -p shim

# Integration tests (tests/) run the gvisor binary built above.
test: build
	GVISOR_BIN=$(GVISOR_BIN) $(CARGO) test --workspace
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check
	$(MAKE) test-hw-kvm

# The hardware-KVM (SVM) path inside a QEMU-emulated AMD machine (tests/hw-kvm/).
test-hw-kvm:
	tests/hw-kvm/run.sh

# The syscall fuzzer (tests/fuzz.rs, tests/c/fuzz.c) with random seeds for FUZZ_SECONDS
# (default 300; FUZZ_SEED=N replays one seed, FUZZ_CALLS sets calls per seed). A failure
# prints the seed, the batch and the command that replays it call by call.
FUZZ_SECONDS ?= 300
fuzz: build
	FUZZ_SECONDS=$(FUZZ_SECONDS) GVISOR_BIN=$(GVISOR_BIN) $(CARGO) test -p gvisor-tests --test fuzz \
	    -- --ignored --nocapture fuzz_for_a_while

# A report, not a test: native vs sandboxed in the same run.
bench:
	$(CARGO) build --release -p shim
	$(CURDIR)/target/release/gvisor-bench

# The main job: a container through a private containerd (tests/containerd/env.sh),
# with `ctr run --runtime io.containerd.gvisor.v1`. Installs the containerd, runc and
# umoci packages first if they are missing.
run: build-shim
	@for t in containerd:containerd ctr:containerd runc:runc umoci:umoci; do \
	    command -v $${t%%:*} >/dev/null 2>&1 || need="$$need $${t#*:}"; done; \
	if [ -n "$$need" ]; then apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$need; fi
	D=$$(mktemp -d /tmp/gvisor-run.XXXXXX); \
	tests/containerd/env.sh start $$D $(CURDIR)/target/debug && \
	ctr -a $$D/containerd.sock run --rm --runtime io.containerd.gvisor.v1 \
	    docker.io/library/busybox:latest hello echo hello from a gvisor-rs container; \
	rc=$$?; tests/containerd/env.sh stop $$D; rm -rf $$D; exit $$rc

# One program in a sandbox, without containerd.
run-sandbox: build-shim
	$(CURDIR)/target/debug/gvisor do -- /bin/busybox echo hello from the sandbox

# Both binaries to $(PREFIX)/bin, the containerd drop-in and the options file to
# /etc/containerd (DESTDIR stages elsewhere).
install:
	@if [ "$(INSTALL_FROM)" = "$(CURDIR)/target/release" ]; then $(CARGO) build --release -p shim; fi
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh install $(INSTALL_FROM)

uninstall:
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh uninstall

clean:
	$(CARGO) clean
