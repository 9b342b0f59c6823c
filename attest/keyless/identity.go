package keyless

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/attest/identity"
)

// Identity is who may sign keylessly: [identity.Identity], plain data so
// that the loader's policy can hold identities without linking this
// package.
type Identity = identity.Identity

// ParseIdentity reads an identity from the -trust-identity syntax:
// KEY=VALUE pairs separated by ";" with keys issuer, issuer-regexp,
// identity, identity-regexp and any claim name of [Claims] (written with
// "_" or "-"), or a JSON object of [Identity].
func ParseIdentity(spec string) (Identity, error) {
	var id Identity
	if strings.HasPrefix(strings.TrimSpace(spec), "{") {
		dec := json.NewDecoder(strings.NewReader(spec))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&id); err != nil {
			return id, fmt.Errorf("identity %q: %w", spec, err)
		}
		return id, CheckIdentity(id)
	}
	for _, kv := range strings.Split(spec, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return id, fmt.Errorf("identity %q: %q is not KEY=VALUE", spec, kv)
		}
		switch k = strings.ReplaceAll(strings.TrimSpace(k), "-", "_"); k {
		case "issuer":
			id.Issuer = v
		case "issuer_regexp":
			id.IssuerRegexp = v
		case "identity":
			id.Subject = v
		case "identity_regexp":
			id.SubjectRegexp = v
		default:
			if _, ok := Claims[k]; !ok || k == "issuer" {
				return id, fmt.Errorf("identity %q: unknown key %q (want issuer, issuer-regexp, identity, identity-regexp or a Fulcio claim: %s)",
					spec, k, strings.Join(slices.Sorted(maps.Keys(Claims)), ", "))
			}
			if id.Claims == nil {
				id.Claims = map[string]string{}
			}
			id.Claims[k] = v
		}
	}
	return id, CheckIdentity(id)
}

// CheckIdentity refuses identities that would trust too much: both an
// issuer and an identity (exact or regexp) are required, regular
// expressions must compile, and claims must be known.
func CheckIdentity(id Identity) error {
	if (id.Issuer == "") == (id.IssuerRegexp == "") {
		return fmt.Errorf("identity %s: give exactly one of issuer and issuer-regexp (for GitHub Actions: issuer=https://token.actions.githubusercontent.com)", id)
	}
	if (id.Subject == "") == (id.SubjectRegexp == "") {
		return fmt.Errorf("identity %s: give exactly one of identity and identity-regexp (for GitHub Actions: the workflow, identity=https://github.com/OWNER/REPO/.github/workflows/FILE.yml@refs/tags/v1.0.0)", id)
	}
	for _, re := range []string{id.IssuerRegexp, id.SubjectRegexp} {
		if re != "" {
			if _, err := regexp.Compile(anchor(re)); err != nil {
				return fmt.Errorf("identity %s: %w", id, err)
			}
		}
	}
	for k := range id.Claims {
		if _, ok := Claims[k]; !ok {
			return fmt.Errorf("identity %s: unknown claim %q", id, k)
		}
	}
	return nil
}

// anchor makes a regular expression match whole values only.
func anchor(re string) string { return `^(?:` + re + `)$` }

func match(exact, re, value string) bool {
	if re != "" {
		ok, err := regexp.MatchString(anchor(re), value)
		return err == nil && ok
	}
	return exact == value
}

// matches reports whether a certificate with these claims and SANs is id,
// and if not, what differs.
func matches(id Identity, claims map[string]string, sans []string) (string, bool) {
	if !match(id.Issuer, id.IssuerRegexp, claims["issuer"]) {
		return fmt.Sprintf("issuer: expected %s, found %q", want(id.Issuer, id.IssuerRegexp), claims["issuer"]), false
	}
	subject := false
	for _, s := range sans {
		subject = subject || match(id.Subject, id.SubjectRegexp, s)
	}
	if !subject {
		return fmt.Sprintf("identity: expected %s, found %q", want(id.Subject, id.SubjectRegexp), sans), false
	}
	for _, k := range slices.Sorted(maps.Keys(id.Claims)) {
		if got, ok := claims[k]; !ok || got != id.Claims[k] {
			return fmt.Sprintf("claim %s: expected %q, found %q", k, id.Claims[k], got), false
		}
	}
	return "", true
}

func want(exact, re string) string {
	if re != "" {
		return "a match of /" + re + "/"
	}
	return fmt.Sprintf("%q", exact)
}
