package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

// TestLinksNoBuildSideCode: the node tool links the audit, measurement,
// runtime and attestation packages, none of the build side (generator,
// go/packages and go/types, text/template, sigstore and protobuf,
// signing, KMS), nor net (it is static), nor bpf2go-signed's own main
// package.
func TestLinksNoBuildSideCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	banned := []string{"golang.org/x/tools", "sigstore", "protobuf", "genproto", "/kms", "ebpf/cmd/bpf2go",
		"bpf2go-signed/gen", "bpf2go-signed/signing", "bpf2go-signed/templates", "aws", "cloud.google.com", "azure", "vault"}
	// (go/parser is linked: cilium/ebpf's internal package formats
	// generated Go with go/format.)
	// net (through crypto/x509) would link the C library: the tool is
	// static.
	exact := []string{"go/types", "text/template", "os/user", "net", "runtime/cgo", "crypto/x509",
		"github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed"}
	for _, dep := range deps {
		for _, b := range banned {
			if strings.Contains(dep, b) {
				t.Errorf("bpf2go-signed-node links %s", dep)
			}
		}
		if slices.Contains(exact, dep) {
			t.Errorf("bpf2go-signed-node links %s", dep)
		}
	}
	for _, want := range []string{"github.com/bpf2go-signed/bpf2go-signed/audit", "github.com/bpf2go-signed/bpf2go-signed/internal/cli"} {
		if !slices.Contains(deps, want) {
			t.Errorf("bpf2go-signed-node does not link %s", want)
		}
	}
}

// TestRunsTheNodeCommands: the tool's commands are internal/cli's node
// commands themselves (bpf2go-signed runs the same values), and its usage
// names itself.
func TestRunsTheNodeCommands(t *testing.T) {
	if !slices.Equal(tool.Commands, cli.NodeCommands()) {
		t.Fatal("bpf2go-signed-node's commands are not internal/cli's node commands")
	}
	for _, args := range [][]string{{"-h"}, {"prog", "verify", "-h"}, {"map", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := tool.Run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Usage: bpf2go-signed-node ") && !strings.Contains(stdout.String(), "  bpf2go-signed-node COMMAND") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	// Build-side commands and generator command lines are not here.
	for _, args := range [][]string{{"sign", "--key", "k", "x.o"}, {"measure", "object", "x.o"}, {"bpf", "prog.c"}, {"-cc", "clang"}, {"prog", "shwo"}, {}} {
		var stdout, stderr bytes.Buffer
		if code := tool.Run(args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "Usage") {
			t.Errorf("%q: exit %d, stderr %q: want a usage error (status 2)", args, code, stderr.String())
		}
	}
}
