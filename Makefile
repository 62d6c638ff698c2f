# gvisor-rs developer targets. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
GVISOR_BIN ?= $(CURDIR)/target/debug/gvisor

.PHONY: all build test test-hw-kvm bench run clean

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

clean:
	$(CARGO) clean
