# bpf2go-signed — see README.md.
#
#   make demo    the XDP example, signed, verified, attached (needs root)
#   make test    install missing toolchain pieces, then vet and run every test
#                (needs root: the tests load real programs into the kernel)
#   make bench   run the benchmarks written up in docs/performance.md
#   make testdata  rebuild testdata/*.o with clang-19

GO ?= go
CLANG ?= clang-19
STRIP ?= llvm-strip-19

.PHONY: test deps vet testdata bench build demo

build:
	$(GO) build -o bin/bpf2go-signed ./cmd/bpf2go-signed

deps:
	@./scripts/install-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

test: deps vet
	$(GO) test -count=1 ./...

testdata:
	CLANG=$(CLANG) STRIP=$(STRIP) ./testdata/build.sh

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./measure/
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./sealmap/

demo:
	./examples/xdp/demo.sh
