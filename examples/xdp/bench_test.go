package main

import (
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// BenchmarkPlainLoad is bpf2go's loadFilterObjects: the baseline.
func BenchmarkPlainLoad(b *testing.B) {
	testutil.RequireBPF(b)
	for b.Loop() {
		var objs filterObjects
		if err := loadFilterObjects(&objs, nil); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}

// BenchmarkVerifiedLoad is the generated loadFilterObjectsVerifiedWithParams:
// seal, load, measure through the kernel, verify the signature, apply the
// policy.
func BenchmarkVerifiedLoad(b *testing.B) {
	testutil.RequireBPF(b)
	for b.Loop() {
		var objs filterObjects
		if _, err := loadFilterObjectsVerifiedWithParams(&objs, nil, nil, &filterParams{Mode: 0}); err != nil {
			b.Fatal(err)
		}
		objs.Close()
	}
}
