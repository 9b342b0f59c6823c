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
#   make test-kernels  the whole suite (tests, race, fuzz seeds, demo) on each
#                kernel of KERNELS (default: the newest Debian 6.1 and 6.12),
#                one QEMU VM each; prints a table kernel x package (needs
#                root; see scripts/vm/test-kernels)
#   make bench   run the benchmarks written up in docs/performance.md
#   make testdata  rebuild testdata/*.o with clang-19

GO ?= go
CLANG ?= clang-19
STRIP ?= llvm-strip-19

FUZZTIME ?= 10s
# package:target pairs of the fuzz targets (every parser of untrusted input)
FUZZ_TARGETS = ./attest:FuzzVerify ./measure:FuzzLowerHex ./attest:FuzzDecodeMatchesEncodingJSON ./internal/jsonread:FuzzMatchesEncodingJSON ./sealmap:FuzzDecodeMatchesEncodingJSON ./attest/keyless:FuzzVerifyBundle ./attest/keyless:FuzzParseCertificate ./measure:FuzzManifest ./measure:FuzzCheckIsSealedAsIs ./audit:FuzzResultAppendJSON ./measure:FuzzScanBTF ./measure:FuzzScanBTFEarlyStop ./measure:FuzzCheckOracle ./sealmap:FuzzContents \
	./sealmap:FuzzPlan ./cmd/bpf2go-signed:FuzzMeasureObject \
	./sealmap/build:FuzzMeasureMapSizes ./cmd/bpf2go-signed:FuzzSignInputs

# Packages run under the race detector, as package[:-run regexp] words (the
# runtime's concurrency: 16 verified loads at once).
RACE_TARGETS = ./runtime ./measure ./sealmap ./audit ./examples/xdp:Concurrent

# Kernels for test-kernels: version lines (the newest Debian amd64 image of
# each) or Debian package names; see README.md, "Kernels".
KERNELS ?= 6.1 6.12
# The kernel features (internal/testutil's names) a test may skip for in the
# VMs: FEATURE,... for every kernel, KERNEL=FEATURE,... for one.
VM_ALLOW_SKIP ?= map-hash,full-digest 6.1=tcx,kfunc,struct-ops

.PHONY: test deps vet testdata bench build demo fuzz race test-oracle test-kernels print-race-targets

build:
	$(GO) build -o bin/bpf2go-signed ./cmd/bpf2go-signed
	$(GO) build -o bin/bpf2go-signed-node ./cmd/bpf2go-signed-node
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
# enter them. The gate's tests run alone, after the others: on a kernel with
# the BPF LSM their enforcing gate refuses, host-wide, the programs other
# packages' tests would load at the same time.
test: deps vet
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/gate$$')
	$(GO) test -count=1 ./gate
	cd kms && $(GO) test -count=1 ./...
	cd agent && $(GO) test -count=1 ./...
	$(MAKE) test-oracle race fuzz

# A nested module: "go test ./..." at the root does not enter it.
test-oracle:
	cd internal/sigstoreoracle && $(GO) vet ./... && $(GO) test -count=1 ./...

# The runtime's concurrency under the race detector (16 verified loads at
# once); the agent, built with -race, through its storm and verdict tests.
race:
	$(GO) test -count=1 -race $$(for t in $(RACE_TARGETS); do case $$t in *:*) ;; *) echo $$t;; esac; done)
	@for t in $(RACE_TARGETS); do case $$t in *:*) \
		echo "$(GO) test -count=1 -race -run $${t#*:} $${t%%:*}"; \
		$(GO) test -count=1 -race -run "$${t#*:}" "$${t%%:*}" || exit 1;; \
	esac; done
	cd agent && AGENT_TEST_RACE=1 $(GO) test -count=1 -race -run 'Storm|Verdicts|Trust|LoadUnload|Lost' . ./bpfevent

print-race-targets:
	@echo $(RACE_TARGETS)

test-kernels:
	@./scripts/install-deps.sh --vm
	KERNELS="$(KERNELS)" RACE_TARGETS="$(RACE_TARGETS)" VM_ALLOW_SKIP="$(VM_ALLOW_SKIP)" ./scripts/vm/test-kernels

# Each fuzz target for FUZZTIME; a crash fails the run and leaves its input
# in the package's testdata/fuzz (commit it as a regression seed).
# scripts/fuzz.sh tells Go 1.26's end-of-fuzztime race from a finding.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		./scripts/fuzz.sh "$${t%%:*}" "$${t##*:}" $(FUZZTIME) $(GO) || exit 1; \
	done

testdata:
	CLANG=$(CLANG) STRIP=$(STRIP) ./testdata/build.sh

# Benchmarks of docs/performance.md. Results go to $(BENCH_OUT); A/B pairs
# are interleaved (a test binary run once per round, in turn) because this
# class of machine drifts by ±10 % between back-to-back runs. Needs root,
# clang-19 and bpftool. BENCH_ROUNDS sets the rounds.
BENCH_OUT ?= bench-out
BENCH_ROUNDS ?= 10
bench: deps
	mkdir -p $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./measure/ | tee $(BENCH_OUT)/measure.txt
	$(GO) test -run '^$$' -bench 'SealAndHash|Hash$$' -benchmem -count 3 ./sealmap/ | tee $(BENCH_OUT)/sealmap.txt
	$(GO) test -run '^$$' -bench DecodeStatement -benchmem -count 5 ./attest/ | tee $(BENCH_OUT)/attest.txt
	$(GO) test -c -o $(BENCH_OUT)/sealmap.test ./sealmap
	$(GO) test -c -o $(BENCH_OUT)/runtime.test ./runtime
	$(GO) test -c -o $(BENCH_OUT)/xdp.test ./examples/xdp
	$(GO) test -c -o $(BENCH_OUT)/audit.test ./audit
	for i in $$(seq $(BENCH_ROUNDS)); do \
		(cd sealmap && ../$(BENCH_OUT)/sealmap.test -test.run '^$$' -test.bench 'Readback' -test.benchtime 1s); \
		(cd runtime && ../$(BENCH_OUT)/runtime.test -test.run '^$$' -test.bench 'Load|Growth' -test.benchmem); \
		(cd examples/xdp && ../../$(BENCH_OUT)/xdp.test -test.run '^$$' -test.bench . -test.benchmem); \
	done > $(BENCH_OUT)/interleaved.txt
	cd audit && ../$(BENCH_OUT)/audit.test -test.run '^$$' -test.bench Audit -test.count 5 -audit.n 100,1000,5000 > ../$(BENCH_OUT)/audit.txt
	$(GO) run ./scripts/bench/procload -n 200 | tee $(BENCH_OUT)/procload.txt
	$(GO) run ./scripts/bench/gen -n 20 | tee $(BENCH_OUT)/gen.txt
	$(GO) run ./scripts/bench/keylesssize -packages 20 | tee $(BENCH_OUT)/keylesssize.txt
	$(GO) run ./scripts/bench/plot -o docs/growth.svg $(BENCH_OUT)/interleaved.txt $(BENCH_OUT)/audit.txt
	@echo "summaries: benchstat $(BENCH_OUT)/interleaved.txt; see docs/performance.md"

demo:
	./examples/xdp/demo.sh
