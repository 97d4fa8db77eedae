# gitops-gate — the two commands a new user needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/gitops-gate
PKG       := ./cmd/gitops-gate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-deps test-go fuzz fuzz-short screenshots lint vet fmt-check bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) $(PKG)

# make run: build, then start the service on http://localhost:8080 with
# SQLite in .data/. With no GitHub configured it runs in demo mode: an
# in-process registry and test Sigstore, and an evaluation of the demo
# repository (signed, wrongly signed and unsigned images). Ctrl-C stops it.
CONFIG ?=
run: build
	./$(BIN) serve $(if $(CONFIG),--config $(CONFIG))

# make test: everything CI runs. Vet and formatting first, then what the
# tests need (installed from Debian's packages when missing), then the whole
# suite; the browser tests must run, not skip.
test: fmt-check vet test-deps test-go fuzz-short

# Fuzz targets (package:target). make test runs each for FUZZ_SHORT; make fuzz
# for FUZZTIME each. Crashers land in the package's testdata/fuzz and, once
# fixed, stay there as regression seeds run by every go test.
# FUZZ_SHORT is a count, not a duration: with a duration Go 1.26's fuzz
# coordinator can report "context deadline exceeded" at the deadline and fail
# a target that found nothing (golang/go#75804, fixed only in Go 1.27). A count
# never arms that deadline, so make test fails only on a real crasher.
FUZZ_TARGETS = ./gate/imageref:FuzzParse ./gate/imageref:FuzzMatch ./gate/policy:FuzzParse \
	./manifests/extract:FuzzExtractImages ./manifests/extract:FuzzDecodeAgreesWithApplier ./gate/github:FuzzInterpret ./gate/report:FuzzWrite
FUZZ_SHORT ?= 2000x
FUZZTIME ?= 5m

fuzz-short:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZ_SHORT))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZ_SHORT) $$pkg || exit 1; done

# make fuzz also runs the incremental-equals-full property (gate/incremental)
# over 150 random edit sequences of 40 steps; make test runs 4 of 10. And the
# updated-checkout-equals-whole one (gate/gitsrc) over 30 sequences of 120
# commits; make test runs 3 of 25.
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done
	$(GO) test -count=1 -timeout 60m -run '^TestIncrementalEqualsFull$$' ./gate/incremental/ -long
	$(GO) test -count=1 -timeout 30m -run '^TestIncrementalCheckoutEqualsWhole$$' ./gate/gitsrc/ -long-worktree

APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test-deps:
	@command -v git >/dev/null 2>&1 || { echo "installing git"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) git; }
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium for the browser tests"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) chromium; }
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing postgresql for the store tests"; $(SUDO) apt-get update -qq && $(SUDO) $(APT_INSTALL) postgresql; }

test-go:
	GITOPS_GATE_REQUIRE_BROWSER=1 GITOPS_GATE_REQUIRE_POSTGRES=1 $(GO) test -count=1 -timeout 15m ./...

# Screenshots of the main pages for the README (docs/screenshots/).
screenshots: test-deps
	GITOPS_GATE_SCREENSHOTS=1 $(GO) test -count=1 -run TestBrowser ./web/

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: fmt-check vet

# Tools the benchmarks compare against are installed from the Go module proxy
# into .cache/bin (ignored by git), never committed.
KUSTOMIZE_CLI := .cache/bin/kustomize
COSIGN_CLI    := .cache/bin/cosign

$(KUSTOMIZE_CLI):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install sigs.k8s.io/kustomize/kustomize/v5@v5.8.0

$(COSIGN_CLI):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5

bench: build $(KUSTOMIZE_CLI) $(COSIGN_CLI)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 5x ./manifests/
	$(GO) run ./manifests/internal/benchrepo -bin $(BIN) -dir testdata/corpus/argocd-example-apps
	$(GO) run ./manifests/internal/benchrepo -bin $(BIN) -apps 500 -kustomize $(KUSTOMIZE_CLI)
	$(GO) run ./gate/internal/benchverify -digests 300 -refs 1000 -apps 200 -latency 20ms -cosign $(COSIGN_CLI)
	$(GO) run ./gate/internal/benchincr -apps 5000 -digests 2000 -latency 20ms
	$(GO) run ./gate/internal/benchincr -apps 5000 -digests 2000 -latency 20ms -ivpol
	$(GO) test -run '^$$' -bench BenchmarkCheckout -benchtime 10x ./gate/gitsrc/
	GITOPS_GATE_BENCH=1 $(GO) test -count=1 -timeout 10m -run TestServiceLatencyAndThroughput -v ./web/ | grep -E 'repo|burst'
	GITOPS_GATE_BENCH=1 $(GO) test -count=1 -timeout 20m -run TestServiceMonorepoPullRequest -v ./web/ | grep -E 'setup|evaluation|pull requests'

clean:
	rm -rf bin
