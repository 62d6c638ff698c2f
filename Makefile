# gvisor-rs developer targets. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
GVISOR_BIN ?= $(CURDIR)/target/debug/gvisor

PREFIX ?= /usr/local
# Where `make install` takes the binaries from (the release build by default).
INSTALL_FROM ?= $(CURDIR)/target/release

.PHONY: all build test test-hw-kvm bench run run-containerd install uninstall clean

all: build

build:
	$(CARGO) build --workspace

# Integration tests (tests/) run the gvisor binary built above.
test: build
	GVISOR_BIN=$(GVISOR_BIN) $(CARGO) test --workspace
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check
	$(MAKE) test-hw-kvm

# The hardware-KVM (SVM) path inside a QEMU-emulated AMD machine (tests/hw-kvm/).
test-hw-kvm:
	tests/hw-kvm/run.sh

# A report, not a test: native vs sandboxed in the same run.
bench:
	$(CARGO) build --release -p shim
	$(CURDIR)/target/release/gvisor-bench

run: build
	$(CURDIR)/target/debug/gvisor do -- /bin/busybox echo hello from the sandbox

# A container through a private containerd (tests/containerd/env.sh): needs the
# containerd, runc and umoci packages.
run-containerd: build
	D=$$(mktemp -d /tmp/gvisor-run.XXXXXX); \
	tests/containerd/env.sh start $$D $(CURDIR)/target/debug && \
	ctr -a $$D/containerd.sock run --rm --runtime io.containerd.gvisor.v1 \
	    docker.io/library/busybox:latest hello echo hello from a gvisor-rs container; \
	rc=$$?; tests/containerd/env.sh stop $$D; rm -rf $$D; exit $$rc

# Both binaries to $(PREFIX)/bin, the containerd drop-in and the options file to
# /etc/containerd (DESTDIR stages elsewhere).
install:
	@if [ "$(INSTALL_FROM)" = "$(CURDIR)/target/release" ]; then $(CARGO) build --release -p shim; fi
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh install $(INSTALL_FROM)

uninstall:
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh uninstall

clean:
	$(CARGO) clean
