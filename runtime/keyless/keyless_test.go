package keyless_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// TestLinksNoX509: the keyless verifier reads certificates with
// encoding/asn1, so loaders generated with -trust-identity link neither
// crypto/x509 nor net (with cgo, net would make them dynamically
// linked), which kept keyless support under 1 MiB of a binary
// (scripts/bench/keylesssize measures it).
func TestLinksNoX509(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "github.com/bpf2go-signed/bpf2go-signed/runtime/keyless")
	cmd.Dir = testutil.Root()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/bpf2go-signed/bpf2go-signed/attest/keyless") {
		t.Fatalf("runtime/keyless does not link attest/keyless: %v", deps)
	}
	for _, banned := range []string{"crypto/x509", "net", "net/url", "net/netip", "crypto/tls", "crypto/md5"} {
		if slices.Contains(deps, banned) {
			t.Errorf("runtime/keyless links %s", banned)
		}
	}
}
