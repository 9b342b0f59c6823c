// Package identity is who may sign keylessly, as plain data: the OIDC
// issuer and certificate identity of a Fulcio certificate, and required
// Fulcio claims.
//
// It is separate from attest/keyless so that the loader's [Policy] can
// name identities without linking the keyless verifier (certificates,
// transparency logs, regexp): a loader generated without -trust-identity links this package
// only. Parsing, checking and matching identities are in attest/keyless
// (ParseIdentity, CheckIdentity, TrustedRoot.Verify).
//
// [Policy]: https://pkg.go.dev/github.com/bpf2go-signed/bpf2go-signed/runtime#Policy
package identity

import (
	"maps"
	"slices"
	"strings"
)

// Identity is who may sign: the OIDC issuer of the Fulcio certificate and
// its identity (a subject alternative name: the workflow URI of a CI job,
// an email, a username), each exact or as a regular expression matched
// against the whole value, and optional Fulcio claims that must equal
// given values (for GitHub Actions: github_workflow_repository,
// github_workflow_ref, source_repository_uri, ...: the names of
// keyless.Claims).
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegexp  string `json:"issuer_regexp,omitempty"`
	Subject       string `json:"identity,omitempty"`
	SubjectRegexp string `json:"identity_regexp,omitempty"`
	// Claims maps Fulcio claim names (keyless.Claims) to the exact value
	// required.
	Claims map[string]string `json:"claims,omitempty"`
}

// String is the -trust-identity syntax of id, with keys in a fixed order.
func (id Identity) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("issuer", id.Issuer)
	add("issuer-regexp", id.IssuerRegexp)
	add("identity", id.Subject)
	add("identity-regexp", id.SubjectRegexp)
	for _, k := range slices.Sorted(maps.Keys(id.Claims)) {
		add(k, id.Claims[k])
	}
	return strings.Join(parts, ";")
}
