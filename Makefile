# Dokkaa - the two commands for a fresh machine are `make demo` and `make check`.
# HOSTS=N (1..8) makes `up` and `demo` build a local cluster of N hosts, each a
# network namespace with its own dockerd, etcd member, conductor, ambassador and
# builder (dokkaacfg up --provider=local); without it, one host on this machine.
BUILD ?= build
JOBS  ?= $(shell nproc)
HOSTS ?=
export HOSTS

.PHONY: all up down demo check unit e2e bench clean deb fuzz

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

up:                ## a local single-host Dokkaa, in the background
	scripts/up.sh

down:              ## stop and remove everything `make up` started
	scripts/down.sh

demo:              ## up, then the seed's example with the seed's commands
	scripts/demo.sh

check:             ## every test: unit (plain, ASan+UBSan, valgrind), e2e, multi-host
	scripts/check.sh

# FUZZ_SECONDS per harness; `make fuzz FUZZ_SECONDS=10` is what make check runs.
FUZZ_SECONDS ?= 600
fuzz:              ## the libFuzzer harnesses of fuzz/ (clang, ASan+UBSan, in build-fuzz/), FUZZ_SECONDS each
	scripts/fuzz.sh $(FUZZ_SECONDS)

# CHAOS_FAULTS faults (default 100) at moments drawn from CHAOS_SEED (default: a new
# seed, printed first; the same seed replays the same faults). Needs root and the
# programs in $(BUILD)/src (or DOKKAA_BIN); a run's records stay in /tmp (printed).
CHAOS_FAULTS ?= 100
CHAOS_SEED ?=
.PHONY: chaos
chaos: all         ## the fault campaign on a local cluster of 3 hosts and its checker (tests/chaos)
	CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_SEED=$(CHAOS_SEED) DOKKAA_BIN=$${DOKKAA_BIN:-$(abspath $(BUILD))/src} \
	    tests/chaos/run.sh

bench: all         ## benchmarks: ratios against raw `docker run`, Docker Swarm, etcd's own reads (API), HAProxy (links)
	$(BUILD)/bench/table_rebuild
	$(BUILD)/bench/mirror_merge
	bench/converge.sh
	bench/cluster.sh
	bench/api.sh
	bench/proxy.sh
	bench/links.sh
	bench/rollout.sh
	bench/scale.sh

# The programs are built anew in $(BUILD)/deb, with Debian's hardening flags
# (dpkg-buildflags: fortify, stack protector, relro and now; PIE is gcc's default),
# so that the developer build in $(BUILD) stays as it is. CPPFLAGS joins CFLAGS, which
# CMake reads when the tree is first configured.
deb:               ## the Debian package: $(BUILD)/dokkaa_<version>_amd64.deb (see packaging/)
	bash -c '. scripts/lib.sh && dk_need_packages dpkg-dev help2man'
	eval "$$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)" && \
	CFLAGS="$$CFLAGS $$CPPFLAGS" cmake -S . -B $(BUILD)/deb -DCMAKE_BUILD_TYPE=Release -DDOKKAA_DEB=ON
	cmake --build $(BUILD)/deb -j$(JOBS) --target deb-files
	cd $(BUILD)/deb && cpack -G DEB -B $(abspath $(BUILD))
	rm -rf $(BUILD)/_CPack_Packages

clean:
	rm -rf build build-asan build-check
