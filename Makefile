# leadpipe: the two commands that matter are `make up` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

# The shared services the test suite talks to (tests that break a service start their own).
export LEADPIPE_KAFKA_BROKERS ?= 127.0.0.1:9092
export LEADPIPE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432
# sqlx::test creates a fresh database per test through this server.
export DATABASE_URL ?= $(LEADPIPE_TEST_DATABASE_URL)/postgres

.PHONY: help up down status test e2e lint tansu build chaos bench

help:
	@echo "make up      start broker, schema, gateway (:8080), consumer (:9091) and the event page (:8081)"
	@echo "make down    stop what make up started (data is kept in .run/)"
	@echo "make test    start what the tests need, then run the whole test suite"
	@echo "make lint    rustfmt, clippy, and the offline checks of the deployment files"
	@echo "make chaos   15 minutes of seeded crashes under load (LEADPIPE_CHAOS_SECS, LEADPIPE_CHAOS_SEED)"
	@echo "make bench   the capacity figures (about 30 minutes, quiet machine): bench/results.{json,md}"

up:
	ops/local/stack up

down:
	ops/local/stack down

status:
	ops/local/stack status

tansu:
	ops/local/stack tansu

# Unit, integration, process and fault tests, the event page in headless Chromium, then the
# pipeline end to end (it starts the local stack from the debug build, as `make up` does;
# `make down` stops it).
test:
	ops/local/stack broker
	ops/local/stack postgres
	ops/local/stack browser
	cargo test --workspace --locked --no-fail-fast
	PROFILE=dev ops/local/stack up
	ops/local/e2e

e2e:
	ops/local/stack up
	ops/local/e2e

# The long chaos run, in release mode: a seeded schedule of crashes of every piece under
# load, then the reconciliation. The short version (2 minutes) is part of `make test`.
chaos:
	ops/local/stack tansu
	ops/local/stack postgres
	cargo build --release --locked -p leadpipe-gateway -p leadpipe-consumer
	LEADPIPE_CHAOS_SECS=$${LEADPIPE_CHAOS_SECS:-900} cargo test --release --locked \
	  -p leadpipe-loadtest --test it chaos::under -- --nocapture

# Every capacity figure of docs/benchmarks.md, measured in one go on stacks of its own
# (it does not use what `make up` started). BENCH_ARGS=--quick checks the harness.
bench:
	ops/local/stack tansu
	ops/local/stack postgres
	bench/setup
	python3 bench/bench.py $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	@if [ -x ops/lint/run ]; then ops/lint/run; fi

build:
	cargo build --workspace --release --locked
