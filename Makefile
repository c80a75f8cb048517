# segq's developer commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO    ?= go
# Extra flags for go test, e.g. make test TESTFLAGS='-run Limiter -v'.
TESTFLAGS ?=

.PHONY: test redis bench chaos fuzz lint

# Installs redis-server from Debian's packages when missing, starts a
# throwaway instance on a free loopback port, runs every test with the race
# detector against it (real-Redis tests included), and stops it.
test: redis
	@set -euo pipefail; \
	dir=$$(mktemp -d); port=$$(bash -c 'for i in $$(seq 200); do p=$$((20000 + RANDOM % 40000)); (exec 3<>/dev/tcp/127.0.0.1/$$p) 2>/dev/null || { echo $$p; exit 0; }; done; exit 1'); \
	redis-server --port $$port --bind 127.0.0.1 --databases 256 --save '' --appendonly no \
	  --daemonize yes --dir $$dir --pidfile $$dir/redis.pid --logfile $$dir/redis.log; \
	trap 'kill $$(cat $$dir/redis.pid 2>/dev/null) 2>/dev/null; rm -rf $$dir' EXIT; \
	for i in $$(seq 100); do redis-cli -p $$port ping >/dev/null 2>&1 && break; sleep 0.05; done; \
	echo "test redis on 127.0.0.1:$$port"; \
	SEGQ_TEST_REDIS_URL=redis://127.0.0.1:$$port/0 $(GO) test -race -count=1 $(TESTFLAGS) ./...

# redis makes sure redis-server and redis-cli are installed.
redis:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  echo "installing redis-server from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
