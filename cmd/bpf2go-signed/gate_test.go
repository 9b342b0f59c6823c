package main

import (
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/gate"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestGateWithoutBPFLSM: where the kernel lacks the BPF LSM (the
// development host), "gate" says so and exits 1; nothing pretends to
// enforce.
func TestGateWithoutBPFLSM(t *testing.T) {
	if gate.Probe() == nil {
		testutil.SkipWithFeature(t, testutil.FeatureLSM)
	}
	trust := testutil.Root() + "/examples/xdp"
	for _, mode := range []string{"enforce", "audit"} {
		out, errOut, code := runCLI("gate", "--trust", trust, "--mode", mode)
		if code != 1 || !strings.Contains(errOut, "not enforcing anything: the BPF LSM is not active") || strings.Contains(out, "ready") {
			t.Errorf("gate --mode %s: exit %d, stdout %q, stderr %q; want exit 1 naming the missing BPF LSM", mode, code, out, errOut)
		}
	}
}

func TestGateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"gate"},
		{"gate", "--trust", "x", "--mode", "permissive"},
		{"gate", "--remove"},
		{"gate", "--trust", "x", "extra"},
	} {
		if _, errOut, code := runCLI(args...); code != 2 || !strings.Contains(errOut, "gate") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error (2)", args, code, errOut)
		}
	}
}
