package runtime

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/identity"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

// Verdict is the outcome of verifying one program, after the
// BPF_PROG_MEASURE proposal's enum.
type Verdict string

// Verdicts, from best to worst.
const (
	// OK: the signature is valid and the kernel's measurement equals a
	// signed one.
	OK Verdict = "OK"
	// Partial: the signature is valid, but part of the final program is
	// not covered by it (kernel-dependent relocations resolved for a
	// kernel not in the signed set).
	Partial Verdict = "PARTIAL"
	// Unsigned: there is no signature.
	Unsigned Verdict = "UNSIGNED"
	// BadSig: the signature does not verify with a trusted key, or the
	// kernel's measurement differs from the signed one.
	BadSig Verdict = "BADSIG"
)

func (v Verdict) rank() int {
	return slices.Index([]Verdict{OK, Partial, Unsigned, BadSig}, v)
}

func worst(a, b Verdict) Verdict {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Policy decides which verdicts may be handed out and which keys are
// trusted. The zero value (and a nil *Policy) trusts the keys embedded at
// generate time and accepts only OK.
type Policy struct {
	// TrustedKeys are trusted in addition to the embedded keys. They must
	// be of the families the loader accepts ([Object.KeyAlgorithms]:
	// those of the keys given at generate time, or -key-algorithms);
	// others are refused before anything is loaded, with
	// [ErrKeyAlgorithm].
	TrustedKeys []crypto.PublicKey
	// IgnoreEmbeddedKeys trusts TrustedKeys and Identities only.
	IgnoreEmbeddedKeys bool
	// Identities may sign keylessly (Sigstore bundle, OIDC issuer and
	// certificate identity), in addition to those embedded with
	// -trust-identity. They need a loader generated with -trust-identity
	// (see [Keyless]); other loaders refuse them with [ErrNoKeyless].
	Identities []identity.Identity
	// TrustedRoot, a trusted_root.json, replaces the one pinned with
	// -trusted-root: to refresh it, or for a private Sigstore instance.
	// Verification never fetches one. Like Identities, it needs a loader
	// generated with -trust-identity.
	TrustedRoot []byte
	// Accept lists the verdicts that may be handed out; empty means OK only.
	Accept []Verdict
}

func (p *Policy) accepts(v Verdict) bool {
	if p == nil || len(p.Accept) == 0 {
		return v == OK
	}
	return slices.Contains(p.Accept, v)
}

func (p *Policy) accepted() []Verdict {
	if p == nil || len(p.Accept) == 0 {
		return []Verdict{OK}
	}
	return p.Accept
}

// SignatureReport says what the signature check found.
type SignatureReport struct {
	Verdict Verdict `json:"verdict"`
	// Key is the SHA-256 of the trusted key's PKIX encoding that verified.
	Key string `json:"key,omitempty"`
	// Identity is the OIDC issuer and certificate identity of a keyless
	// signature that verified.
	Identity string `json:"identity,omitempty"`
	Error    string `json:"error,omitempty"`
}

// MapReport is a map as the kernel reports it.
type MapReport struct {
	Name    string           `json:"name"`
	ID      uint32           `json:"id"`
	Sealed  bool             `json:"sealed"`
	Frozen  bool             `json:"frozen"`
	Content *measure.Content `json:"content,omitempty"`
	// Slots are the filled slots of a program array or map of maps.
	Slots []measure.KernelSlot `json:"slots,omitempty"`
}

// TailCallReport is a program reached through the slots of a program
// array, measured against the signed program its slot names.
type TailCallReport struct {
	ID         uint32               `json:"id"`
	Name       string               `json:"name"`
	Tag        string               `json:"tag"`
	MeasuredAs string               `json:"measured_as,omitempty"`
	Links      []measure.KernelLink `json:"links,omitempty"`
}

// ProgramReport is the verdict on one program.
type ProgramReport struct {
	Name    string  `json:"name"`
	ID      uint32  `json:"id,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Tag is the kernel's tag; TagAlgorithm says which hash it is.
	Tag          string `json:"tag,omitempty"`
	TagAlgorithm string `json:"tag_algorithm,omitempty"`
	// TagBits is how many bits of the instruction digest the comparison
	// rests on (64: the kernel's tag).
	TagBits int `json:"tag_bits,omitempty"`
	// MeasID is the signed measurement's id of this program.
	MeasID string `json:"meas_id,omitempty"`
	// Target names the acceptable digest that matched ("" for the object
	// as built).
	Target     string               `json:"target,omitempty"`
	Mismatches []measure.Mismatch   `json:"mismatches,omitempty"`
	Maps       []MapReport          `json:"maps,omitempty"`
	Params     []measure.ParamValue `json:"params,omitempty"`
	// Relocations lists, for a PARTIAL program, every CO-RE site resolved
	// for this kernel: instruction index, relocation (kind, type, field)
	// and the value written.
	Relocations []measure.Fixup `json:"relocations,omitempty"`
	// Unbound lists what the signature does not bind although nothing
	// differs from it (unsealed program arrays: "tail-call targets not
	// bound"); such a program is at best PARTIAL.
	Unbound []string `json:"unbound,omitempty"`
	// TailCalls are the programs reached through program-array slots.
	TailCalls []TailCallReport `json:"tail_calls,omitempty"`
	// BoundMaps are maps bound to the program with BPF_PROG_BIND_MAP that
	// no instruction references: reported, not compared (they cannot
	// change what the program does).
	BoundMaps []measure.BoundMap `json:"bound_maps,omitempty"`
	// Links are tracing and extension links that target the program
	// (each one also a mismatch).
	Links []measure.KernelLink `json:"links,omitempty"`
}

// Report is the full result of a verified load, JSON-marshalable. Every
// compared value names its source: the kernel tag's algorithm, and for
// each sealed map where its content hash came from.
type Report struct {
	Object       string          `json:"object"`
	ObjectSHA256 string          `json:"object_sha256"`
	Verdict      Verdict         `json:"verdict"`
	Accepted     bool            `json:"accepted"`
	Accept       []Verdict       `json:"accept"`
	MeasID       string          `json:"meas_id,omitempty"`
	Signature    SignatureReport `json:"signature"`
	// DigestBackend says what the instruction comparison rests on: the
	// kernel's 64-bit tag (and why the full digest is not available) or
	// the full 256-bit digest.
	DigestBackend string          `json:"digest_backend,omitempty"`
	Programs      []ProgramReport `json:"programs"`
	// StructOps are the verdicts on the object's struct_ops maps.
	StructOps []StructOpsReport `json:"struct_ops,omitempty"`

	manifest *measure.Manifest
	params   map[string][]byte
	policy   *Policy
	partials map[string]partialResult
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return b
}

// String is a short human-readable summary.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (signature %s", r.Object, r.Verdict, r.Signature.Verdict)
	if r.MeasID != "" {
		fmt.Fprintf(&b, ", meas_id %s", r.MeasID)
	}
	b.WriteString(")")
	for _, p := range r.Programs {
		fmt.Fprintf(&b, "\n  %s: %s tag %s (%s)", p.Name, p.Verdict, p.Tag, p.TagAlgorithm)
		for _, prm := range p.Params {
			fmt.Fprintf(&b, " %s=%s", prm.Name, prm.Value)
		}
		for _, f := range p.Relocations {
			fmt.Fprintf(&b, "\n    CO-RE insn %d %s: %s", f.Insn, f.Relocation.Relocation, f.Fixup)
		}
		for _, u := range p.Unbound {
			fmt.Fprintf(&b, "\n    not bound: %s", u)
		}
		for _, bm := range p.BoundMaps {
			fmt.Fprintf(&b, "\n    bound map (BPF_PROG_BIND_MAP, no instruction uses it): id %d %s %q", bm.ID, bm.Type, bm.Name)
		}
		for _, m := range p.Mismatches {
			fmt.Fprintf(&b, "\n    %s", m)
		}
	}
	for _, so := range r.StructOps {
		fmt.Fprintf(&b, "\n  struct_ops %s (%s): %s", so.Name, so.Type, so.Verdict)
		for _, m := range so.Mismatches {
			fmt.Fprintf(&b, "\n    %s", m)
		}
	}
	return b.String()
}

// ErrRefused is wrapped by every [Error]: the policy refused the verdict.
var ErrRefused = errors.New("refused by policy")

// Error is returned when the policy refuses a load. Every object the load
// opened has been closed. Use errors.As to get the report.
type Error struct {
	Report *Report
	// Cause is the signature error, if any (attest's sentinels).
	Cause error
}

// Error says what was refused and why, every mismatch with its expected
// and found values, and what to do.
func (e *Error) Error() string {
	r := e.Report
	var b strings.Builder
	fmt.Fprintf(&b, "bpf2go-signed: refused %s: verdict %s, the policy accepts %s", r.Object, r.Verdict, joinVerdicts(r.Accept))
	if r.Signature.Error != "" {
		fmt.Fprintf(&b, "; signature: %s", r.Signature.Error)
	}
	for _, p := range r.Programs {
		for _, m := range p.Mismatches {
			fmt.Fprintf(&b, "; program %s: %s", p.Name, m)
		}
		for _, u := range p.Unbound {
			fmt.Fprintf(&b, "; program %s: not bound: %s", p.Name, u)
		}
	}
	for _, so := range r.StructOps {
		for _, m := range so.Mismatches {
			fmt.Fprintf(&b, "; %s", m)
		}
	}
	b.WriteString("; ")
	b.WriteString(advice(r))
	return b.String()
}

// Unwrap returns ErrRefused and the signature error.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrRefused, e.Cause}
	}
	return []error{ErrRefused}
}

func advice(r *Report) string {
	switch {
	case r.Signature.Verdict == Unsigned:
		return `what to do: sign the object ("bpf2go-signed sign --key KEY ./..."), then rebuild; or accept UNSIGNED in the policy for development only`
	case r.Verdict == Partial && hasUnbound(r):
		return `what to do: the programs are the signed ones, but what they tail-call through an unsealed program array is not; initialise the program array in C (.values) or seal it and regenerate, or accept PARTIAL in the policy`
	case r.Verdict == Partial:
		return `what to do: the programs are the signed ones with their CO-RE relocations resolved for this kernel, which the signature does not cover; generate and sign with -target-btf for this kernel's BTF (/sys/kernel/btf/vmlinux), or accept PARTIAL in the policy`
	case r.Signature.Verdict == BadSig:
		return `what to do: sign with a key whose public half is trusted (-trust-key PUB at generate time, or Policy.TrustedKeys), or keylessly as a trusted identity (-trust-identity, Policy.Identities), and check that the signature belongs to this object`
	default:
		return `what to do: the kernel holds something other than what was signed; rebuild with "go generate" and sign again, and if this binary was not rebuilt, treat it as tampered`
	}
}

func hasUnbound(r *Report) bool {
	for _, p := range r.Programs {
		if len(p.Unbound) > 0 {
			return true
		}
	}
	return false
}

func joinVerdicts(vs []Verdict) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, " or ")
}

// keyFingerprint is the SHA-256 of k's PKIX form, k a key of a family of
// algs.
func keyFingerprint(algs attest.KeyAlgorithms, k crypto.PublicKey) string {
	der, err := algs.MarshalPKIXPublicKey(k)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
