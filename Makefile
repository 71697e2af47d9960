# leadpipe: the two commands that matter are `make up` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

# The shared services the test suite talks to (tests that break a service start their own).
export LEADPIPE_KAFKA_BROKERS ?= 127.0.0.1:9092
export LEADPIPE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432
# sqlx::test creates a fresh database per test through this server.
export DATABASE_URL ?= $(LEADPIPE_TEST_DATABASE_URL)/postgres

.PHONY: help up down status reset check test e2e contract fuzz lint tansu build chaos bench analyst-bench

# Every step of `make test` and `make lint` is timed by ops/ci/phase: `.ci/run` prints
# the table (LEADPIPE_PHASES); run by hand it only runs the step.
PHASE := ops/ci/phase

# cargo-nextest runs the test binaries side by side, each test in its own process, with
# the heavy process tests serialised in test groups (.config/nextest.toml). Without it,
# plain `cargo test` runs the same tests one binary at a time.
ifneq ($(shell command -v cargo-nextest 2>/dev/null),)
TEST := cargo nextest run --workspace --locked
TEST_FREE := $(TEST) --no-fail-fast --status-level fail -E
else
TEST := cargo test --workspace --locked
TEST_FREE = $(error make check needs cargo-nextest (cargo install cargo-nextest --locked))
endif

# The tests that need no service (no broker, database, browser or Redis): domain rules,
# golden files, unit tests of every crate (the load generator's included), and the
# gateway's handler, abuse, log and settings tests on the in-memory sink. `make check`
# runs them.
SERVICE_FREE := package(leadpipe-domain) | kind(lib) | kind(bin) | \
  (package(leadpipe-gateway) & kind(test) & not test(/^broker::/) & \
   not test(=abuse::with_redis_the_limits_are_shared_by_every_gateway))

help:
	@echo "make up      start broker, schema, gateway (:8080), consumer (:9091) and the event page (:8081)"
	@echo "make down    stop what make up started (data is kept in .run/)"
	@echo "make status  what runs, and whether the broker works"
	@echo "make reset   stop everything and wipe the local broker's data (says what is lost)"
	@echo "make check   the loop while working: rustfmt, clippy and every test that needs no service"
	@echo "make test    start what the tests need, then run the whole test suite"
	@echo "make contract  Schemathesis against the OpenAPI document for 10 minutes (CONTRACT_SECS)"
	@echo "make fuzz    cargo fuzz on the body parser and the message decoder, 5 minutes each (FUZZ_SECS)"
	@echo "make lint    rustfmt, clippy, and the offline checks of the deployment files"
	@echo "make chaos   15 minutes of seeded crashes under load (LEADPIPE_CHAOS_SECS, LEADPIPE_CHAOS_SEED)"
	@echo "make bench   the capacity figures (about 30 minutes, quiet machine): bench/results.{json,md}"
	@echo "make analyst-bench  the analysts' questions on 10 million leads, and the drain rate: bench/analyst/results.md"

up:
	ops/local/stack up

down:
	ops/local/stack down

status:
	ops/local/stack status

# Stops everything and wipes the local broker's data (after saying how many accepted
# leads are not stored yet): for a broker whose storage no longer works.
reset:
	ops/local/stack reset

tansu:
	ops/local/stack tansu

# The loop to run while working (about a minute warm): formatting, clippy, and every
# test that needs no service.
check:
	@ops/local/stack libs
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(TEST_FREE) '$(SERVICE_FREE)'

# Unit, integration, process and fault tests, the event page in headless Chromium, then the
# pipeline end to end (it starts the local stack from the debug build, as `make up` does;
# `make down` stops it).
test:
	$(PHASE) "test: system libraries" ops/local/stack libs
	$(PHASE) "test: broker" ops/local/stack broker
	$(PHASE) "test: postgresql" ops/local/stack postgres
	$(PHASE) "test: browser" ops/local/stack browser
	$(PHASE) "test: build" $(TEST) --no-run
	$(PHASE) "test: run" $(TEST) --no-fail-fast
	$(PHASE) "e2e: start the stack" env PROFILE=dev ops/local/stack up
	$(PHASE) "e2e: run" ops/local/e2e
	$(PHASE) "contract: schemathesis" ops/contract/run --seed 20261207 --max-time 60
	$(PHASE) "fuzz: body parser, message decoder" ops/fuzz/run 20

e2e:
	ops/local/stack up
	ops/local/e2e

# Coverage-guided fuzzing of the body parser and the message decoder for 5 minutes each
# (20 seconds each are part of `make test`).
fuzz:
	ops/fuzz/run $${FUZZ_SECS:-300}

# The API contract for longer, with a new seed each time: Schemathesis --checks all
# against a gateway of its own (the short, seeded run is part of `make test`).
contract:
	ops/local/stack libs
	ops/contract/run --max-time $${CONTRACT_SECS:-600}

# The long chaos run, in release mode: a seeded schedule of crashes of every piece under
# load, then the reconciliation. The short version (2 minutes) is part of `make test`.
chaos:
	ops/local/stack libs
	ops/local/stack tansu
	ops/local/stack postgres
	cargo build --release --locked -p leadpipe-gateway -p leadpipe-consumer
	LEADPIPE_CHAOS_SECS=$${LEADPIPE_CHAOS_SECS:-900} \
	  LEADPIPE_CHAOS_SEED=$${LEADPIPE_CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} cargo test --release --locked \
	  -p leadpipe-loadtest --test it chaos::under -- --nocapture

# Every capacity figure of docs/benchmarks.md, measured in one go on stacks of its own
# (it does not use what `make up` started). BENCH_ARGS=--quick checks the harness.
bench:
	ops/local/stack libs
	ops/local/stack tansu
	ops/local/stack postgres
	bench/setup
	python3 bench/bench.py $(BENCH_ARGS)

# clippy compiles the workspace's own crates in a test build (as the workspace wrapper
# of rustc, which is how `cargo clippy` runs it, but in a build instead of a check): the
# dependencies are compiled once, for the lints and for the tests alike, where `cargo
# clippy` checks every one of them a second time in a mode the tests cannot use. With
# LEADPIPE_SHARE_CLIPPY_BUILD set (.ci/run sets it) every cargo command here builds that
# way, so `make test` after `make lint` has nothing left to build.
CLIPPY_WRAPPER := clippy-driver
CLIPPY_DENY := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_WRAPPER) CLIPPY_ARGS=$(CLIPPY_DENY)
ifdef LEADPIPE_SHARE_CLIPPY_BUILD
export RUSTC_WORKSPACE_WRAPPER := $(CLIPPY_WRAPPER)
export CLIPPY_ARGS := $(CLIPPY_DENY)
endif

lint:
	$(PHASE) "lint: system libraries" ops/local/stack libs
	$(PHASE) "lint: rustfmt" cargo fmt --all -- --check
	$(PHASE) "lint: clippy (test build)" env $(CLIPPY_BUILD) cargo test --workspace --all-targets --locked --no-run
	$(PHASE) "lint: deployment files" ops/lint/run

# The analysts' questions timed on a database of 10 million generated leads of its own
# (about 15 minutes on 2 cores; ANALYST_ARGS=--reuse keeps the loaded database),
# and the consumer's drain rate with the same indexes: bench/analyst/results.md.
analyst-bench:
	ops/local/stack libs
	ops/local/stack tansu
	ops/local/stack postgres
	python3 bench/analyst/run.py $(ANALYST_ARGS)

build:
	ops/local/stack libs
	cargo build --workspace --release --locked
