# Makefile - thin wrapper over CMake/ctest and the development database.
# SPDX-License-Identifier: MIT
#
#   make run     start a local PostgreSQL 15 and tspool on 127.0.0.1:8080 (TSDB=1: TimescaleDB
#                with a demo hypertable and a data generator)
#   make test    install missing packages, build with ASan+UBSan, start test databases (PostgreSQL 15,
#                PGlite TimescaleDB, native TimescaleDB 2.28: scripts/tsdb-native.sh), run all tests
#   make tsan    the unit tests under ThreadSanitizer
#   make bench-pool  the pool micro-benchmark in a Release build (-O2, no sanitizer)
#   make format  apply clang-format;  make stop  stop the development and test databases
#   make helm-test  only the Helm chart and Dockerfile checks (also part of make test)
#   make fuzz    build the libFuzzer targets with clang and run each FUZZ_SECONDS (part of make test)
#   make test-sanitize  the whole suite (unit, integration, reliability) under ASan+UBSan
#   make soak    long variants: fuzz for SOAK_FUZZ_SECONDS each, the reliability tests repeated
#   make valgrind  a short serve session under valgrind memcheck (part of make test)
#   make docs    re-render api/docs.html (GET /docs) from openapi.yaml
#   make client  regenerate clients/typescript/src/schema.ts from openapi.yaml
#   make contract-test  only the OpenAPI lint, contract, client and example tests (also part of make test)
#   make bench   tspool side by side with nginx, PgBouncer, Patroni, postgres_exporter (bench/results)
#   make bench-pgbouncer  /metrics over two PgBouncer instances vs prometheus-pgbouncer-exporter
#   make image   the container image with buildah on a debootstrap'd base, no Docker (scripts/image.sh)
#   make image-test  run the image with podman against the test database (part of make test
#                where containers can run)

BUILD      ?= build
TEST_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
VALGRIND_BUILD ?= build-valgrind
FUZZ_SECONDS ?= 10
SOAK_FUZZ_SECONDS ?= 300
SOAK_REPEAT ?= 5
BENCH_BUILD ?= build-release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
DEVDB_DIR  := $(CURDIR)/.tspool/pg
TESTDB_DIR := $(CURDIR)/.tspool/test-pg
TSDB_DIR   := $(CURDIR)/.tspool/test-tsdb
TSDB_NATIVE_DIR := $(CURDIR)/.tspool/test-tsdb-native
PGB_DIR    := $(CURDIR)/.tspool/test-pgbouncer
# the test and development servers preload pg_stat_statements (GET /server/statements)
DEVDB_CONF := shared_preload_libraries = 'pg_stat_statements'
SOURCES     = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')

.PHONY: all build run test test-sanitize fuzz soak valgrind unit tsan bench bench-pool bench-pgbouncer bench-ts-scrape format \
	format-check stop deps clean helm-test helm-docs docs client contract-test image image-test

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target tspool

# TSDB=1: a TimescaleDB server with a demo hypertable and a data generator instead
run: build
	@if [ "$(TSDB)" = 1 ]; then scripts/run.sh --tsdb $(BUILD)/tspool $(CURDIR)/.tspool; else \
		TSPOOL_DEVDB_DIR=$(DEVDB_DIR) TSPOOL_DEVDB_CONF="$(DEVDB_CONF)" scripts/devdb.sh start && \
		scripts/run.sh $(BUILD)/tspool $(DEVDB_DIR); fi

test: deps format-check
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTSPOOL_SANITIZE=address,undefined $(CMAKE_ARGS) >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) TSPOOL_DEVDB_CONF="$(DEVDB_CONF)" scripts/devdb.sh start
	@# a streaming replica of it (pg_basebackup -R) on another loopback port: the read pool's tests
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) scripts/replica.sh start
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) TSPOOL_PGBOUNCER_DIR=$(PGB_DIR) scripts/pgbouncer.sh start
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		TSPOOL_TSDB_DIR=$(TSDB_DIR) scripts/tsdb.sh start; \
	else echo "node/npm missing: TimescaleDB integration tests will be skipped"; fi
	@# PostgreSQL 15 + TimescaleDB 2.28 built from ../shared/third_party: a failed build or
	@# start stops here; without the tarball `available` prints the one-line skip reason
	@if scripts/tsdb-native.sh available; then \
		TSPOOL_TSDB_NATIVE_DIR=$(TSDB_NATIVE_DIR) scripts/tsdb-native.sh start; fi
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory tsan
	@if scripts/image.sh deps >/dev/null && scripts/image.sh works; then \
		$(MAKE) --no-print-directory image-test; \
	else echo "image-test skipped: buildah/podman cannot build or run containers on this machine"; fi
	@# the whole suite last, so that its ctest summary closes the output
	cd $(TEST_BUILD) && TSPOOL_TEST_PGDIR=$(TESTDB_DIR) TSPOOL_TEST_TSDBDIR=$(TSDB_DIR) TSPOOL_TEST_PGBDIR=$(PGB_DIR) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		TSPOOL_TEST_TSDB_NATIVEDIR=$(TSDB_NATIVE_DIR) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

# the Makefile's test build is already ASan+UBSan; this names it for CI
test-sanitize: test

fuzz: deps
	cmake -S tests/fuzz -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# a short serve session under valgrind memcheck (a build without sanitizers)
valgrind: deps
	cmake -S . -B $(VALGRIND_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSPOOL_BUILD_TESTS=OFF -DTSPOOL_BUILD_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	cmake --build $(VALGRIND_BUILD) -j $(JOBS) --target tspool
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) TSPOOL_DEVDB_CONF="$(DEVDB_CONF)" scripts/devdb.sh start
	tests/reliability/valgrind_serve.sh $(VALGRIND_BUILD)/tspool $(TESTDB_DIR)

soak: deps
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTSPOOL_SANITIZE=address,undefined $(CMAKE_ARGS) >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) TSPOOL_DEVDB_CONF="$(DEVDB_CONF)" scripts/devdb.sh start
	cd $(TEST_BUILD) && TSPOOL_TEST_PGDIR=$(TESTDB_DIR) ctest --output-on-failure -L reliability \
		--repeat until-fail:$(SOAK_REPEAT)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(SOAK_FUZZ_SECONDS)

unit: deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target tspool
	cd $(BUILD) && ctest --output-on-failure -L unit

tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTSPOOL_SANITIZE=thread -DTSPOOL_BUILD_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -L unit

bench-pool: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" -DTSPOOL_BUILD_TESTS=OFF -DTSPOOL_BUILD_BENCH=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target pool_bench
	$(BENCH_BUILD)/bench/pool_bench

helm-test: deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target tspool
	cd $(BUILD) && ctest --output-on-failure -L 'helm|docker'

# the image without Docker: buildah (chroot isolation) on a debootstrap'd bookworm base
image:
	@scripts/image.sh build

image-test: image
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) scripts/devdb.sh start
	tests/image/image-test.sh $(TESTDB_DIR)

# regenerate the values table in helm/tspool/README.md from values.yaml and values.schema.json
helm-docs:
	node tests/helm/values-table.mjs --write

# the reference page and the TypeScript client types are generated from openapi.yaml and
# committed; the contract tests fail while they are stale
docs:
	sh tests/contract/setup.sh >/dev/null
	node tests/contract/build-docs.mjs

client:
	sh tests/contract/setup.sh >/dev/null
	node clients/typescript/generate.mjs

contract-test: deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target tspool
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) TSPOOL_DEVDB_CONF="$(DEVDB_CONF)" scripts/devdb.sh start
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) scripts/replica.sh start
	cd $(BUILD) && TSPOOL_TEST_PGDIR=$(TESTDB_DIR) TSPOOL_TEST_TSDBDIR=$(TSDB_DIR) TSPOOL_TEST_PGBDIR=$(PGB_DIR) \
		TSPOOL_TEST_TSDB_NATIVEDIR=$(TSDB_NATIVE_DIR) ctest --output-on-failure -L contract

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run -Werror $(SOURCES)

stop:
	@TSPOOL_PGBOUNCER_DIR=$(PGB_DIR) scripts/pgbouncer.sh stop 2>/dev/null || true
	@TSPOOL_DEVDB_DIR=$(DEVDB_DIR) scripts/devdb.sh stop 2>/dev/null || true
	@TSPOOL_TSDB_NATIVE_DIR=$(CURDIR)/.tspool/tsdb-native scripts/tsdb-native.sh stop 2>/dev/null || true
	@TSPOOL_TSDB_DIR=$(CURDIR)/.tspool/tsdb scripts/tsdb.sh stop 2>/dev/null || true
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) scripts/replica.sh stop 2>/dev/null || true
	@TSPOOL_DEVDB_DIR=$(TESTDB_DIR) scripts/devdb.sh stop 2>/dev/null || true
	@TSPOOL_TSDB_DIR=$(TSDB_DIR) scripts/tsdb.sh stop 2>/dev/null || true
	@TSPOOL_TSDB_NATIVE_DIR=$(TSDB_NATIVE_DIR) scripts/tsdb-native.sh stop 2>/dev/null || true

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(VALGRIND_BUILD)

# scripts/bench.sh installs the peers, builds a Release tspool in build-bench, runs every load
# test on loopback (about ten minutes) and writes bench/results/latest.md; it also runs
# `make bench-pool` (the pool micro-benchmark) and puts its output in the results.
bench:
	@scripts/bench.sh

# part of `make bench`; alone: about a minute plus the Release build (bench/results/pgbouncer.md)
bench-pgbouncer:
	@scripts/bench-pgbouncer.sh

# /metrics with 5 vs 500 hypertables on the native TimescaleDB server (bench/results/ts-scrape.md)
bench-ts-scrape: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DTSPOOL_BUILD_TESTS=OFF $(CMAKE_ARGS) >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target tspool
	bench/tsdb/scrape-bench.sh $(BENCH_BUILD)/tspool
