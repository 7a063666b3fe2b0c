# dfs — build, run and test. `make run` mounts a single node at ./mnt with
# its data in ./data; `make test` installs what is missing (fuse3, a MinIO
# server cached under $(CACHE)), starts MinIO and runs every test.

GO      ?= go
CACHE   ?= $(HOME)/.cache/dfs
MINIO   := $(CACHE)/bin/minio
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Packages whose tests are cheap enough to run under the race detector.
RACE_PKGS := ./store/... ./fs/vfs/... ./alerts/... ./cluster/...

.PHONY: all build run test test-short lint deps deps-fuse deps-minio deps-net deps-browser clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/dfsd ./cmd/dfsd
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/dfsctl ./cmd/dfsctl

# A stale mount left by a killed daemon answers ENOTCONN: clear it first.
run: build deps-fuse
	@mkdir -p mnt data
	@if ! stat mnt >/dev/null 2>&1; then fusermount3 -u mnt 2>/dev/null || umount -l mnt; fi
	$(BIN)/dfsd --data ./data --mount ./mnt

test: deps build
	DFS_TEST_DFSD=$(CURDIR)/$(BIN)/dfsd DFS_TEST_DFSCTL=$(CURDIR)/$(BIN)/dfsctl DFS_REQUIRE_S3=1 DFS_REQUIRE_BROWSER=1 MINIO=$(MINIO) \
		.ci/with-minio $(GO) test -count=1 -timeout 25m ./...
	DFS_REQUIRE_S3=1 MINIO=$(MINIO) \
		.ci/with-minio $(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

test-short:
	$(GO) test -short -count=1 ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...

deps: deps-fuse deps-minio deps-net deps-browser

deps-fuse:
	@command -v fusermount3 >/dev/null || { \
		echo "installing fuse3"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null; }
	@test -e /dev/fuse || { echo "no /dev/fuse on this machine: FUSE mounts cannot work"; exit 1; }

# Partition tests cut a node off inside a network namespace with iptables.
deps-net:
	@command -v iptables >/dev/null && command -v ip >/dev/null || { \
		echo "installing iptables and iproute2"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables iproute2 >/dev/null; }

# The status page's tests load it in headless Chromium (they are skipped
# without one).
deps-browser:
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

deps-minio:
	@test -x $(MINIO) || { \
		echo "building MinIO into $(MINIO) (about 6 minutes, once)"; \
		GOBIN=$(CACHE)/bin $(GO) install github.com/minio/minio@latest; }

clean:
	rm -rf $(BIN)
