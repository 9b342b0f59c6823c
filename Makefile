# bpf2go-signed — see README.md.
#
#   make demo    the XDP example, signed, verified, attached (needs root)
#   make test    install missing toolchain pieces, then vet and run every test
#                of the modules ., kms/ and agent/ (needs root: the tests load
#                real programs into the kernel),
#                the race detector on the runtime, and every fuzz target for
#                FUZZTIME (10s)
#   make test-oracle  attest/keyless against sigstore-go v1.3.0 and public
#                Sigstore bundles, in the nested module internal/sigstoreoracle
#                (its dependencies stay out of go.mod; part of make test)
#   make bench   run the benchmarks written up in docs/performance.md
#   make testdata  rebuild testdata/*.o with clang-19

GO ?= go
CLANG ?= clang-19
STRIP ?= llvm-strip-19

FUZZTIME ?= 10s
# package:target pairs of the fuzz targets (every parser of untrusted input)
FUZZ_TARGETS = ./attest:FuzzVerify ./attest/keyless:FuzzVerifyBundle ./measure:FuzzManifest ./sealmap:FuzzContents \
	./sealmap:FuzzPlan ./cmd/bpf2go-signed:FuzzMeasureObject \
	./cmd/bpf2go-signed:FuzzMeasureMapSizes ./cmd/bpf2go-signed:FuzzSignInputs

.PHONY: test deps vet testdata bench build demo fuzz race test-oracle

build:
	$(GO) build -o bin/bpf2go-signed ./cmd/bpf2go-signed
	cd agent && $(GO) build -o ../bin/bpf2go-signed-agent ./cmd/bpf2go-signed-agent

deps:
	@./scripts/install-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	cd kms && $(GO) vet ./...
	cd agent && $(GO) vet ./...

# kms/ and agent/ are modules of their own (they keep cloud SDKs and the
# Prometheus client out of the generator's go.mod): go test ./... does not
# enter them.
test: deps vet
	$(GO) test -count=1 ./...
	cd kms && $(GO) test -count=1 ./...
	cd agent && $(GO) test -count=1 ./...
	$(MAKE) test-oracle race fuzz

# A nested module: "go test ./..." at the root does not enter it.
test-oracle:
	cd internal/sigstoreoracle && $(GO) vet ./... && $(GO) test -count=1 ./...

# The runtime's concurrency under the race detector (16 verified loads at
# once); the agent, built with -race, through its storm and verdict tests.
race:
	$(GO) test -count=1 -race ./runtime ./measure ./sealmap ./audit
	$(GO) test -count=1 -race -run Concurrent ./examples/xdp
	cd agent && AGENT_TEST_RACE=1 $(GO) test -count=1 -race -run 'Storm|Verdicts|Trust|LoadUnload|Lost' . ./bpfevent

# Each fuzz target for FUZZTIME; a crash fails the run and leaves its input
# in the package's testdata/fuzz (commit it as a regression seed).
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg || exit 1; \
	done

testdata:
	CLANG=$(CLANG) STRIP=$(STRIP) ./testdata/build.sh

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./measure/
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./sealmap/

demo:
	./examples/xdp/demo.sh
