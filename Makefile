# Dokkaa - the two commands for a fresh machine are `make demo` and `make check`.
# HOSTS=N (1..8) makes `up` and `demo` build a local cluster of N hosts, each a
# network namespace with its own dockerd, etcd member, conductor, ambassador and
# builder (dokkaacfg up --provider=local); without it, one host on this machine.
BUILD ?= build
JOBS  ?= $(shell nproc)
HOSTS ?=
export HOSTS

.PHONY: all up down demo check unit e2e bench clean

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

bench:             ## benchmarks: ratios against raw `docker run`, Docker Swarm, etcd's own reads (API), HAProxy (links)
	bench/converge.sh
	bench/cluster.sh
	bench/api.sh
	bench/proxy.sh

clean:
	rm -rf build build-asan build-check
