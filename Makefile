# gvisor-rs developer targets. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
GVISOR_BIN ?= $(CURDIR)/target/debug/gvisor

PREFIX ?= /usr/local
# Where `make install` takes the binaries from (the release build by default).
INSTALL_FROM ?= $(CURDIR)/target/release

# The private containerd of `make containerd-up` (tests/containerd/env.sh).
CONTAINERD_DIR ?= /tmp/gvisor-containerd

DEPS_TARGETS := deps-shim deps-build deps-sandbox deps-run deps-hwkvm deps-test

.PHONY: all build build-shim test test-hw-kvm fuzz bench study run run-sandbox install uninstall clean \
	containerd-up containerd-down deps $(DEPS_TARGETS)

all: build

# What each target needs from the machine (Debian packages, the Rust
# toolchain, /dev/kvm): deploy/install-deps.sh GROUP checks it in a fraction
# of a second, installs missing packages with apt-get as root, and otherwise
# fails naming them. `make deps` installs everything `make test` needs.
$(DEPS_TARGETS):
	@CARGO='$(CARGO)' $(CURDIR)/deploy/install-deps.sh $(@:deps-%=%)
deps: deps-test

build: deps-build
	$(CARGO) build --workspace

# Only the binaries (gvisor, containerd-shim-gvisor-v1): no test-only
# dependencies (the CRI client needs protoc).
build-shim: deps-shim
	$(CARGO) build -p shim

# Integration tests (tests/) run the gvisor binary built above.
test: deps-test build
	GVISOR_BIN=$(GVISOR_BIN) $(CARGO) test --workspace
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check
	$(MAKE) test-hw-kvm

# The hardware-KVM (SVM) path inside a QEMU-emulated AMD machine (tests/hw-kvm/).
test-hw-kvm: deps-hwkvm
	tests/hw-kvm/run.sh

# The syscall fuzzer (tests/fuzz.rs, tests/c/fuzz.c) with random seeds for FUZZ_SECONDS
# (default 300; FUZZ_SEED=N replays one seed, FUZZ_CALLS sets calls per seed). A failure
# prints the seed, the batch and the command that replays it call by call.
FUZZ_SECONDS ?= 300
fuzz: deps-sandbox build
	FUZZ_SECONDS=$(FUZZ_SECONDS) GVISOR_BIN=$(GVISOR_BIN) $(CARGO) test -p gvisor-tests --test fuzz \
	    -- --ignored --nocapture fuzz_for_a_while

# A report, not a test: native vs sandboxed in the same run.
bench: deps-run
	$(CARGO) build --release -p shim
	$(CURDIR)/target/release/gvisor-bench

# The gVisor study's measurements with our tools (docs/STUDY.md): distinct
# system calls of nginx and of `ls` (app -> sentry, sentry -> host, gofer ->
# host, and Linux's view with strace -f -c); prints the Markdown table.
# Needs root, nginx, umoci, strace, curl and jq. STUDY_OUT keeps the profiles.
STUDY_OUT ?= $(CURDIR)/target/study
study: deps-run build-shim
	GVISOR_BIN=$(GVISOR_BIN) tests/study/run.sh $(STUDY_OUT)

# The main job: a container through a private containerd (tests/containerd/env.sh),
# with `ctr run --runtime io.containerd.gvisor.v1`. Installs the packages it needs
# (containerd, runc, umoci, busybox-static, ...) first if they are missing.
run: deps-run build-shim
	D=$$(mktemp -d /tmp/gvisor-run.XXXXXX); \
	tests/containerd/env.sh start $$D $(CURDIR)/target/debug && \
	ctr -a $$D/containerd.sock run --rm --runtime io.containerd.gvisor.v1 \
	    docker.io/library/busybox:latest hello echo hello from a gvisor-rs container; \
	rc=$$?; tests/containerd/env.sh stop $$D; rm -rf $$D; exit $$rc

# One program in a sandbox, without containerd.
run-sandbox: deps-sandbox build-shim
	$(CURDIR)/target/debug/gvisor do -- /bin/busybox echo hello from the sandbox

# A private containerd for experiments, left running: the one the tests use
# (tests/containerd/env.sh: its own root, state and socket in CONTAINERD_DIR,
# the gvisor runtime and the CRI plugin configured, busybox and pause images
# imported), with this tree's target/debug binaries. Prints how to use it.
containerd-up: deps-run build-shim
	@d='$(CONTAINERD_DIR)'; \
	if [ -f "$$d/containerd.pid" ] && kill -0 "$$(cat "$$d/containerd.pid")" 2>/dev/null; then \
	    echo "containerd is already running in $$d (pid $$(cat "$$d/containerd.pid"))"; \
	else \
	    tests/containerd/env.sh start "$$d" $(CURDIR)/target/debug || exit 1; \
	    echo "containerd is running in $$d (pid $$(cat "$$d/containerd.pid")), log $$d/containerd.log"; \
	fi; \
	echo "Point ctr at it (images docker.io/library/busybox:latest and pause:latest are there):"; \
	echo "  export CONTAINERD_ADDRESS=$$d/containerd.sock    # or ctr --address $$d/containerd.sock ..."; \
	echo "  ctr run --rm --runtime io.containerd.gvisor.v1 docker.io/library/busybox:latest demo echo hello"; \
	echo "  ctr run --rm -t --runtime io.containerd.gvisor.v1 docker.io/library/busybox:latest demo sh"; \
	echo "The CRI plugin serves the same socket (runtime handler gvisor)."; \
	down="make containerd-down"; [ "$$d" = /tmp/gvisor-containerd ] || down="$$down CONTAINERD_DIR=$$d"; \
	echo "Stop it (and every sandbox it started): $$down"

# Stops the containerd of containerd-up, its shims and sandboxes, and removes
# what it left in CONTAINERD_DIR.
containerd-down:
	@d='$(CONTAINERD_DIR)'; \
	if [ ! -e "$$d/config.toml" ]; then echo "no containerd of make containerd-up in $$d"; exit 0; fi; \
	tests/containerd/env.sh stop "$$d" && \
	rm -rf "$$d/images" "$$d/cni-bin" "$$d/cni-conf" && \
	rm -f "$$d/config.toml" "$$d/gvisor.toml" "$$d/containerd.log" \
	    "$$d/containerd.sock" "$$d/containerd.sock.ttrpc" && \
	rmdir "$$d" && echo "stopped the containerd in $$d and removed it"

# Both binaries to $(PREFIX)/bin, the containerd drop-in and the options file to
# /etc/containerd (DESTDIR stages elsewhere).
install:
	@if [ "$(INSTALL_FROM)" = "$(CURDIR)/target/release" ]; then $(CARGO) build --release -p shim; fi
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh install $(INSTALL_FROM)

uninstall:
	DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) deploy/install.sh uninstall

clean:
	$(CARGO) clean
