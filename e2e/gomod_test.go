package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// maxToolRequirements bounds what adding the generator as a tool adds to
// a user's go.mod (README.md, "Dependencies", lists them).
const maxToolRequirements = 20

// heavy are module path prefixes a code generator must not bring into a
// user's go.mod: cloud SDKs, grpc, OpenTelemetry. Cloud KMS keys are served
// by plugins from the nested module .../kms instead.
var heavy = []string{
	"cloud.google.com/", "github.com/aws/", "github.com/Azure/", "github.com/AzureAD/",
	"github.com/hashicorp/", "google.golang.org/grpc", "go.opentelemetry.io/",
	"google.golang.org/api", "github.com/sigstore/sigstore/pkg/signature/kms/",
}

// toolRequirements writes a fresh module that adds tool (a command of the
// module mod, replaced by replace when not "") with Go's tool directive,
// runs go mod tidy (module cache and Go proxy only) and returns the
// requirements tidy wrote.
func toolRequirements(t *testing.T, mod, replace, tool string) []string {
	t.Helper()
	dir := t.TempDir()
	gomod := "module example.com/user\n\ngo 1.26\n\nrequire " + mod + " v0.0.0\n\ntool " + tool + "\n"
	if replace != "" {
		gomod += "\nreplace " + mod + " => " + replace + "\n"
	} else {
		gomod = strings.Replace(gomod, mod+" v0.0.0", mod+" "+moduleVersion(t, mod), 1)
	}
	sum, err := os.ReadFile(filepath.Join(testutil.Root(), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	run(t, dir, []string{"GOFLAGS=-mod=mod"}, "go", "mod", "tidy")
	raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range f.Require {
		out = append(out, r.Mod.Path)
	}
	return out
}

// moduleVersion is the version of mod that this project's go.mod requires.
func moduleVersion(t *testing.T, mod string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testutil.Root(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == mod {
			return r.Mod.Version
		}
	}
	t.Fatalf("go.mod does not require %s", mod)
	return ""
}

// TestToolRequirements: a module that adds bpf2go-signed as a tool gains
// at most maxToolRequirements requirements, none of them a cloud SDK, grpc
// or OpenTelemetry; bpf2go's count is logged next to it.
func TestToolRequirements(t *testing.T) {
	testutil.HostOnly(t, "go generate and go build of user modules")
	ours := toolRequirements(t, "github.com/bpf2go-signed/bpf2go-signed", testutil.Root(), "github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed")
	theirs := toolRequirements(t, "github.com/cilium/ebpf", "", "github.com/cilium/ebpf/cmd/bpf2go")
	t.Logf("bpf2go-signed as a tool: %d requirements: %s", len(ours), strings.Join(ours, " "))
	t.Logf("bpf2go as a tool: %d requirements: %s", len(theirs), strings.Join(theirs, " "))
	if len(ours) > maxToolRequirements {
		t.Errorf("adding bpf2go-signed as a tool adds %d requirements, want at most %d", len(ours), maxToolRequirements)
	}
	for _, r := range ours {
		for _, h := range heavy {
			if strings.HasPrefix(r, h) {
				t.Errorf("adding bpf2go-signed as a tool requires %s", r)
			}
		}
	}
	if len(theirs) == 0 || len(ours) < len(theirs) {
		t.Errorf("implausible counts: ours %d, bpf2go's %d", len(ours), len(theirs))
	}
}
