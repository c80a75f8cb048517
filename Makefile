# segq's developer commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO    ?= go
# Extra flags for go test, e.g. make test TESTFLAGS='-run Limiter -v'.
TESTFLAGS ?=
# Where tests put artefacts (the status page screenshot).
export SEGQ_ARTIFACTS ?= $(CURDIR)/artifacts

.PHONY: test bench chaos fuzz lint deps

# with-redis runs its argument with a throwaway redis-server on a free
# loopback port (256 databases: every real-Redis test takes its own) and
# SEGQ_TEST_REDIS_URL pointing at it; the server is stopped afterwards.
define with-redis
	@set -euo pipefail; \
	dir=$$(mktemp -d); port=$$(bash -c 'for i in $$(seq 200); do p=$$((20000 + RANDOM % 40000)); (exec 3<>/dev/tcp/127.0.0.1/$$p) 2>/dev/null || { echo $$p; exit 0; }; done; exit 1'); \
	redis-server --port $$port --bind 127.0.0.1 --databases 256 --save '' --appendonly no \
	  --daemonize yes --dir $$dir --pidfile $$dir/redis.pid --logfile $$dir/redis.log; \
	trap 'kill $$(cat $$dir/redis.pid 2>/dev/null) 2>/dev/null; rm -rf $$dir' EXIT; \
	for i in $$(seq 100); do redis-cli -p $$port ping >/dev/null 2>&1 && break; sleep 0.05; done; \
	echo "test redis on 127.0.0.1:$$port"; mkdir -p "$$SEGQ_ARTIFACTS"; \
	export SEGQ_TEST_REDIS_URL=redis://127.0.0.1:$$port/0; \
	$(1)
endef

# Installs what the tests need when missing (redis-server and redis-cli;
# chromium for the status page screenshot, best effort), starts a throwaway
# Redis, and runs every test with the race detector against it.
test: deps
	$(call with-redis,$(GO) test -race -count=1 $(TESTFLAGS) ./...)

# Benchmarks against a real Redis, printing tables: the limiter beside
# go-redis/redis_rate, the HTTP API (in-process load, and wrk), the CSV
# checker beside wc and sort, and the day-in-a-minute run through the
# simulator.
bench: deps
	@command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  echo "wrk unavailable: its benchmark is skipped"
	$(call with-redis, \
	  SEGQ_BENCH_TABLE=1 $(GO) test -count=1 -run '^TestBenchTable$$' -v ./limiter | grep -v '^\(=== RUN\|--- \|PASS\|ok \)'; \
	  $(GO) test ./internal/httpapi -run '^$$' -bench 'HTTP$$|Wrk' -benchtime 20000x; \
	  $(GO) test ./internal/csvcheck -run '^$$' -bench 150MB -benchtime 3x; \
	  SEGQ_BENCH=1 $(GO) test -count=1 -timeout 5m -run '^TestDayInAMinute$$' -v ./internal/bench | grep -v '^\(=== RUN\|--- \|PASS\|ok \)')

# The long fault tests: crash, Redis and load tests at full length (the
# load test without the race detector, which caps its rate).
chaos: deps
	$(call with-redis, \
	  SEGQ_CHAOS=1 $(GO) test -race -count=1 -timeout 30m -v -run 'Chaos|Killed|SIGTERM|Redis' ./internal/e2e && \
	  SEGQ_CHAOS=1 $(GO) test -count=1 -timeout 10m -v -run 'Load' ./internal/e2e)

# Runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./internal/csvcheck -run '^$$' -fuzz FuzzCheck -fuzztime $(FUZZTIME)
	$(GO) test ./callback -run '^$$' -fuzz FuzzCallback -fuzztime $(FUZZTIME)
	$(GO) test ./internal/httpapi -run '^$$' -fuzz FuzzDecodeJobRequest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzConfig -fuzztime $(FUZZTIME)

deps:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  echo "installing redis-server from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium from Debian's packages (status page screenshot)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	  echo "chromium unavailable: the screenshot is skipped, the page is still tested"; }

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
