# Cairn's build and test entry points. `make test` is the one command that runs every test on a
# fresh machine; it installs what the tests need first (scripts/deps.sh).

GO        ?= go
BIN       := bin
PKGS      := ./...
TEST_TIMEOUT ?= 20m
# Cairn's own version and commit, linked into cairnd and cairnctl (internal/version).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/cairn-io/cairn/internal/version.version=$(VERSION) -X github.com/cairn-io/cairn/internal/version.commit=$(COMMIT)

.PHONY: all build man test test-etcd fuzz deps vet fmt-check unit cluster bench-compare bench-auth bench clean robustness \
	operator-manifests operator-build operator-test operator-vet kube-apiserver image operator-image image-test

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

deps:
	bash scripts/deps.sh

# Man pages (DOCS/man1) and bash, zsh and fish completions (DOCS/completion) of cairnd and
# cairnctl, generated from their command definitions by their hidden gen-docs command. DOCS is
# a build directory, not committed.
DOCS ?= build/docs
man: build
	rm -rf $(DOCS)
	$(BIN)/cairnctl gen-docs $(DOCS)
	$(BIN)/cairnd gen-docs $(DOCS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Every test: unit, in-process clusters, real cairnd processes with etcdctl and etcd's Go
# client, under the race detector.
test: deps fmt-check vet build operator-vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS)
	$(MAKE) --no-print-directory test-etcd
	$(MAKE) --no-print-directory operator-test
	FUZZBUDGET=$(TEST_FUZZBUDGET) GO=$(GO) bash scripts/fuzz.sh

# Every fuzz target for FUZZTIME each (plain `go test` above already replays their seed corpora
# and the inputs that once failed). `make test` fuzzes for TEST_FUZZBUDGET seconds in all.
FUZZTIME ?= 30s
TEST_FUZZBUDGET ?= 100
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# test/compat against etcd 3.4 itself: the expectations written by hand for Cairn must hold for
# the real thing too. `make test` runs it after the Cairn run.
test-etcd: deps
	CAIRN_COMPAT_TARGET=etcd $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./test/compat/

# A local three-node cluster of real processes on 127.0.0.1 (ports 2379/2380, 22379/22380,
# 32379/32380); Ctrl-C stops it.
cluster: build
	bash scripts/cluster.sh

bench-compare: build
	bash scripts/bench-compare.sh

# What authentication costs: serializable reads with auth off and on, Cairn and etcd 3.4.
bench-auth:
	bash scripts/bench-auth.sh

# Go benchmarks of the hot paths (store, fsm encoding).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/store/ ./internal/fsm/

clean:
	rm -rf $(BIN) build

# The robustness suite's long run: three real cairnd processes behind fault-injecting proxies,
# faults for DURATION, then linearizability, lost-write and watch checks (docs/robustness.md).
# Its short run is part of `make test`. SEED=<n> replays a run's fault order.
DURATION ?= 30m
robustness:
	ROBUSTNESS_DURATION=$(DURATION) ROBUSTNESS_SEED=$(SEED) $(GO) test -count=1 -timeout 4h -v -run 'TestRobustness$$' ./test/robustness/

# The Kubernetes operator is its own Go module (operator/), so `go test ./...` at the root does
# not reach it. Its envtest tests run a real kube-apiserver built from the module proxy once and
# cached under $${CAIRN_CACHE:-$$HOME/.cache/cairn} (scripts/kube-apiserver.sh).
CONTROLLER_GEN ?= $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.20.1

kube-apiserver: deps
	@bash scripts/kube-apiserver.sh >/dev/null

operator-manifests:
	cd operator && $(CONTROLLER_GEN) object paths=./api/... && \
	$(CONTROLLER_GEN) crd:crdVersions=v1 rbac:roleName=cairn-operator paths=./... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

operator-build:
	cd operator && $(GO) build ./...

operator-vet:
	cd operator && $(GO) vet ./...

operator-test: kube-apiserver
	cd operator && KUBEBUILDER_ASSETS="$$(bash ../scripts/kube-apiserver.sh)" \
		$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# The container images, FROM scratch with static binaries built on the host (scripts/image.sh).
image:
	bash scripts/image.sh cairn

operator-image:
	bash scripts/image.sh operator

# Three containers of the image on a Docker network serving etcdctl (skips without Docker).
image-test: image
	$(GO) test -count=1 -v ./test/image/
