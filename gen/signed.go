package gen

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"go/build/constraint"
	"go/format"
	"go/token"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	bpfgen "github.com/cilium/ebpf/cmd/bpf2go/gen"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
	"github.com/bpf2go-signed/bpf2go-signed/templates"
)

// extras is what every target shares: the signer, the trusted keys and the
// contents files.
type extras struct {
	signer  *signing.Signer
	trusted []string // PEM
	// keyAlgorithms are the key families the loader accepts.
	keyAlgorithms attest.KeyAlgorithms
	contents      map[string][]byte
	targets       []measure.Target
	keyless       *keylessExtras
}

func loadExtras(ctx context.Context, c *Config) (*extras, error) {
	e := &extras{contents: map[string][]byte{}}
	var err error
	for _, path := range c.Trust {
		raw, err := ReadFile(path, signing.MaxKeyFile)
		if err != nil {
			return nil, fmt.Errorf("-trust: %w", err)
		}
		if _, err := attest.ParsePublicKey(raw); err != nil {
			return nil, fmt.Errorf("-trust-key %s: %w", path, err)
		}
		e.trusted = append(e.trusted, string(raw))
	}
	if c.SignKey != "" {
		s, err := signing.Load(ctx, c.SignKey, signing.Password())
		if err != nil {
			return nil, fmt.Errorf("-sign-key: %w", err)
		}
		e.signer = s
		if len(e.trusted) == 0 {
			pub, err := pemPublicKey(s.Public())
			if err != nil {
				return nil, err
			}
			e.trusted = append(e.trusted, pub)
		}
	}
	if e.keyAlgorithms, err = keyAlgorithms(c, e.trusted); err != nil {
		return nil, err
	}
	if e.keyless, err = loadKeyless(c); err != nil {
		return nil, err
	}
	targets, err := measure.LoadTargets(c.TargetBTF)
	if err != nil {
		return nil, fmt.Errorf("-target-btf: %w", err)
	}
	e.targets = targets
	for name, path := range c.SealContents {
		raw, err := ReadFile(path, MaxJSONFile)
		if err != nil {
			return nil, fmt.Errorf("-seal-contents %s: %w", name, err)
		}
		e.contents[name] = raw
	}
	return e, nil
}

// keyAlgorithms returns the key families of the loader: -key-algorithms,
// which must include the families of the trusted keys, or else those
// families, or ECDSA (cosign's default) without trusted keys.
func keyAlgorithms(c *Config, trusted []string) (attest.KeyAlgorithms, error) {
	all := attest.AllKeyAlgorithms()
	var families attest.KeyAlgorithms
	for i, p := range trusted {
		k, err := attest.ParsePublicKey([]byte(p))
		if err != nil {
			return nil, err
		}
		a := all.Of(k)
		if c.KeyAlgorithms != nil && !slices.Contains(c.KeyAlgorithms, a) {
			which := "the -sign-key's public key"
			if i < len(c.Trust) {
				which = "-trust-key " + c.Trust[i]
			}
			return nil, fmt.Errorf("-key-algorithms %s: %s is an %s key; add %s to the list (-key-algorithms %s) or trust a key of the listed families",
				c.KeyAlgorithms, which, a, a, c.KeyAlgorithms.With(a.String()))
		}
		if !slices.Contains(families, a) {
			families = append(families, a)
		}
	}
	switch {
	case c.KeyAlgorithms != nil:
		return c.KeyAlgorithms, nil
	case len(families) == 0:
		return attest.KeyAlgorithms{attest.ECDSA}, nil
	}
	return all.Intersect(families), nil
}

// keyAlgorithmCode is how generated code names each key family: the
// package that defines it (none for ECDSA, which package attest defines),
// imported under an alias, and the expression of the family.
var keyAlgorithmCode = map[string]keyAlgorithmImport{
	"ecdsa":   {Expr: "bpfattest.ECDSA"},
	"ed25519": {Alias: "bpfed25519key", Path: "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key", Expr: "bpfed25519key.Algorithm"},
	"rsa":     {Alias: "bpfrsakey", Path: "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey", Expr: "bpfrsakey.Algorithm"},
}

type keyAlgorithmImport struct{ Alias, Path, Expr string }

// setKeyAlgorithms sets the families the loader names, and the packages
// it imports for them, from algs (in canonical order, which is also the
// import path order).
func (d *loaderData) setKeyAlgorithms(algs attest.KeyAlgorithms) {
	for _, a := range algs {
		code := keyAlgorithmCode[a.String()]
		d.KeyAlgorithms = append(d.KeyAlgorithms, code.Expr)
		if code.Path != "" {
			d.KeyAlgorithmImports = append(d.KeyAlgorithmImports, code)
		}
	}
}

func pemPublicKey(k crypto.PublicKey) (string, error) {
	b, err := attest.MarshalPublicKey(k)
	return string(b), err
}

// names are the Go identifiers of the generated loader, derived from the
// stem like bpf2go's.
type names string

func (n names) upper() string { return strings.ToUpper(string(n)[:1]) + string(n)[1:] }

func (n names) export(s string) string {
	if token.IsExported(string(n)) {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func (n names) Bytes() string       { return "_" + n.upper() + "Bytes" }
func (n names) Envelope() string    { return "_" + n.upper() + "Envelope" }
func (n names) SealPlan() string    { return "_" + n.upper() + "SealPlan" }
func (n names) TrustedKeys() string { return "_" + n.upper() + "TrustedKeys" }
func (n names) Bundle() string      { return "_" + n.upper() + "Bundle" }
func (n names) TrustedRoot() string { return "_" + n.upper() + "TrustedRoot" }
func (n names) Identities() string  { return "_" + n.upper() + "TrustedIdentities" }
func (n names) Object() string      { return "_" + n.upper() + "SignedObject" }
func (n names) LoadObjects() string { return n.export("load" + n.upper() + "Objects") }
func (n names) Params() string      { return string(n) + "Params" }
func (n names) RecheckObjects() string {
	return n.export("recheck" + n.upper() + "Objects")
}
func (n names) LoadObjectsVerified() string {
	return n.export("load" + n.upper() + "ObjectsVerified")
}
func (n names) LoadObjectsVerifiedWithParams() string {
	return n.export("load" + n.upper() + "ObjectsVerifiedWithParams")
}

type paramField struct{ Name, Field, GoType string }

type loaderData struct {
	Package      string
	Constraints  constraint.Expr
	Name         names
	ObjectFile   string
	EnvelopeFile string
	PlanFile     string
	TrustedKeys  []string
	// KeyAlgorithms are the expressions of the accepted key families;
	// KeyAlgorithmImports the packages they need beyond attest, in
	// import path order.
	KeyAlgorithms       []string
	KeyAlgorithmImports []keyAlgorithmImport
	Params              []paramField
	// BundleFile, TrustedRootFile and Identities are set for keyless
	// loaders (-trust-identity).
	BundleFile      string
	TrustedRootFile string
	Identities      []string
}

// writeSigned resolves the sealing plan of one compiled object, measures
// it, writes the envelope (signed, or a placeholder) and the plan next to
// it, and renders the verifying loader.
func (c *Config) writeSigned(ctx context.Context, objFile, stem, outputStem string, tgt bpfgen.Target, cons constraint.Expr, e *extras, log io.Writer) error {
	obj, err := ReadFile(objFile, build.MaxObjectSize)
	if err != nil {
		return err
	}
	manifest, plan, spec, err := build.Measure(obj, build.Declared(sealmap.Config{Seal: c.Seal, Contents: e.contents, Params: c.Params, UnsealedProgArrays: c.UnsealedProgArrays}), e.targets)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(objFile), err)
	}
	if note := build.TargetNote(filepath.Base(objFile), spec, manifest, e.targets); note != "" {
		fmt.Fprintf(log, "bpf2go-signed: note: %s\n", note)
	}
	st := attest.NewStatement(filepath.Base(objFile), obj, manifest)

	envFile := objFile + attest.Suffix
	var env []byte
	if e.signer != nil {
		env, err = signOrKeep(ctx, e.signer, st, envFile, obj)
	} else {
		env, err = attest.Unsigned(st)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(objFile), err)
	}
	if err := writeIfChanged(envFile, env); err != nil {
		return err
	}
	planFile := objFile + build.PlanSuffix
	if err := writeIfChanged(planFile, plan.Encode()); err != nil {
		return err
	}

	var bundleFile, rootFile string
	if e.keyless != nil {
		if bundleFile, rootFile, err = writeKeyless(e.keyless, objFile, st); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(objFile), err)
		}
	}

	params, err := paramFields(spec, plan.Params)
	if err != nil {
		return err
	}
	data := loaderData{
		Package:      c.Package,
		Constraints:  cons,
		Name:         names(c.Ident),
		ObjectFile:   filepath.Base(objFile),
		EnvelopeFile: filepath.Base(envFile),
		PlanFile:     filepath.Base(planFile),
		TrustedKeys:  e.trusted,
		Params:       params,
	}
	data.setKeyAlgorithms(e.keyAlgorithms)
	if e.keyless != nil {
		data.BundleFile, data.TrustedRootFile, data.Identities = bundleFile, rootFile, e.keyless.identities
	}
	var buf bytes.Buffer
	if err := templates.Loader.Execute(&buf, data); err != nil {
		return fmt.Errorf("render loader: %w", err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return fmt.Errorf("render loader: %w", err)
	}
	goFile := filepath.Join(filepath.Dir(objFile), fmt.Sprintf("%s_%s_signed%s.go", outputStem, tgt.Suffix(), c.OutputSuffix))
	if err := writeIfChanged(goFile, src); err != nil {
		return err
	}
	c.debugf(log, "Wrote verifying loader file=%s (signed=%v, measurement %s)", goFile, e.signer != nil, manifest.MeasID)
	return nil
}

// signOrKeep signs st, unless envFile already holds a signature by the
// same key over the same statement: ECDSA signatures are randomised, and
// keeping a valid one keeps "go generate" reproducible.
func signOrKeep(ctx context.Context, s *signing.Signer, st *attest.Statement, envFile string, obj []byte) ([]byte, error) {
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	if old, err := safefs.ReadFile(envFile, MaxJSONFile); err == nil {
		if v, err := attest.Verify(old, obj, []crypto.PublicKey{s.Public()}); err == nil {
			if again, err := v.Statement.Marshal(); err == nil && bytes.Equal(again, payload) {
				return old, nil
			}
		}
	}
	return s.Sign(ctx, st)
}

// writeIfChanged writes data unless the file already holds it. An output
// that is a symbolic link or a special file is refused, never written
// through, and a new file is renamed into place (see package safefs).
func writeIfChanged(path string, data []byte) error {
	old, err := safefs.ReadFile(path, int64(len(data)))
	switch {
	case err == nil && bytes.Equal(old, data):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, safefs.ErrTooLarge):
		return err
	}
	return safefs.WriteFile(path, data, 0o644)
}

// paramFields returns the Go fields of the parameters struct.
func paramFields(spec *ebpf.CollectionSpec, params []string) ([]paramField, error) {
	var out []paramField
	for _, name := range params {
		v := spec.Variables[name]
		if !identRe.MatchString(name) {
			return nil, fmt.Errorf("parameter %q is not a valid identifier", name)
		}
		out = append(out, paramField{Name: name, Field: fieldName(name), GoType: goType(v)})
	}
	return out, nil
}

// fieldName turns a C name into an exported Go field name: snake_case to
// CamelCase.
func fieldName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	if b.Len() == 0 {
		return "P" + name
	}
	return b.String()
}

// goType returns a Go type for a parameter that ebpf.VariableSpec.Set
// accepts: sized integers, bool, arrays of them, or raw bytes.
func goType(v *ebpf.VariableSpec) string {
	size := v.Size()
	var typ btf.Type
	if v.Type != nil {
		typ = v.Type.Type
	}
	if t := scalarGoType(typ); t != "" {
		return t
	}
	if arr, ok := btf.UnderlyingType(typ).(*btf.Array); ok {
		if t := scalarGoType(arr.Type); t != "" {
			if t == "int8" || t == "uint8" {
				t = "byte"
			}
			return fmt.Sprintf("[%d]%s", arr.Nelems, t)
		}
	}
	return fmt.Sprintf("[%d]byte", size)
}

func scalarGoType(typ btf.Type) string {
	if typ == nil {
		return ""
	}
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		if t.Encoding == btf.Bool {
			return "bool"
		}
		sign := "uint"
		if t.Encoding == btf.Signed {
			sign = "int"
		}
		switch t.Size {
		case 1, 2, 4, 8:
			return fmt.Sprintf("%s%d", sign, t.Size*8)
		}
	case *btf.Enum:
		sign := "uint"
		if t.Signed {
			sign = "int"
		}
		switch t.Size {
		case 1, 2, 4, 8:
			return fmt.Sprintf("%s%d", sign, t.Size*8)
		}
	}
	return ""
}
