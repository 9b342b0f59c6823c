package main

import (
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestGeneratedUpToDate runs this package's go:generate line again in a
// copy of the package and checks that every generated file comes out byte
// for byte as committed: the generator is reproducible and the committed
// files are current.
func TestGeneratedUpToDate(t *testing.T) {
	testutil.CheckGenerated(t, "main.go", "main", []string{"filter.c", "blocked_ports.json", "demo.key"},
		[]string{"filter_bpfel.go", "filter_bpfel.o", "filter_bpfel.o.intoto.json", "filter_bpfel.o.seal.json", "filter_bpfel_signed.go"},
		"go generate ./examples/xdp")
}
