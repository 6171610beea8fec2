# Dokkaa - the two commands for a fresh machine are `make demo` and `make check`.
BUILD ?= build
JOBS  ?= $(shell nproc)

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

check:             ## every test: unit (plain and ASan+UBSan), valgrind, e2e
	scripts/check.sh

bench:             ## benchmarks, as ratios against raw `docker run`
	bench/converge.sh

clean:
	rm -rf build build-asan build-check
