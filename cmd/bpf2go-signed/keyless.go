package main

import (
	"fmt"
	"io"

	"github.com/bpf2go-signed/bpf2go-signed/attest/keyless"
	"github.com/bpf2go-signed/bpf2go-signed/gen"
	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

// StatementSuffix names the statement file "statement" writes next to an
// object, for cosign attest-blob --statement.
const StatementSuffix = ".statement.json"

// statement writes, next to each object, the exact in-toto statement the
// loader expects, for a keyless signature in CI:
//
//	cosign attest-blob --statement X.o.statement.json --new-bundle-format --bundle X.o.sigstore.json --yes
//
// It finds objects as sign does, and measures them the same way.
func statement(c *cli.Command, args []string, stdout, _ io.Writer) error {
	fs := c.Flags()
	var targetBTF cli.StringList
	cli.TargetBTFFlag(fs, &targetBTF)
	words, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("%w: statement [--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...", cli.ErrUsage)
	}
	targets, err := measure.LoadTargets(targetBTF)
	if err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	inputs, closeInputs, err := collectInputs("statement", words)
	defer closeInputs()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, in := range inputs {
		if seen[in.path()] {
			continue
		}
		seen[in.path()] = true
		st, note, err := prepareObject(in, targets)
		if err != nil {
			return fmt.Errorf("statement %s: %w", in.path(), err)
		}
		payload, err := st.Marshal()
		if err != nil {
			return fmt.Errorf("statement %s: %w", in.path(), err)
		}
		if err := in.dir.WriteFile(in.name+StatementSuffix, payload, 0o644); err != nil {
			return fmt.Errorf("statement %s: %w", in.path(), err)
		}
		if note != "" {
			fmt.Fprintf(stdout, "note: %s\n", note)
		}
		p := in.path()
		fmt.Fprintf(stdout, "wrote %s%s; sign it with: cosign attest-blob --statement %s%s --new-bundle-format --bundle %s%s --yes\n",
			p, StatementSuffix, p, StatementSuffix, p, keyless.Suffix)
	}
	return nil
}

// verifyKeyless checks FILE.o.sigstore.json against identities and a
// trusted root, offline.
func verifyKeyless(path string, specs []string, rootFile string, stdout io.Writer) error {
	if rootFile == "" {
		return fmt.Errorf("%w: verify --identity needs --trusted-root trusted_root.json", cli.ErrUsage)
	}
	var ids []keyless.Identity
	for _, s := range specs {
		id, err := keyless.ParseIdentity(s)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		ids = append(ids, id)
	}
	rootJSON, err := gen.ReadFile(rootFile, gen.MaxJSONFile)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	root, err := keyless.ParseTrustedRoot(rootJSON)
	if err != nil {
		return fmt.Errorf("verify: %s: %w", rootFile, err)
	}
	obj, err := gen.ReadFile(path, build.MaxObjectSize)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	bundle, err := gen.ReadFile(path+keyless.Suffix, gen.MaxJSONFile)
	if err != nil {
		return fmt.Errorf("verify: %w (sign %s%s keylessly with cosign attest-blob)", err, path, StatementSuffix)
	}
	v, err := keyless.VerifyObject(bundle, obj, root, ids)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	m := v.Statement.Predicate
	fmt.Fprintf(stdout, "Verified OK: %s, signed keylessly by %s (Rekor index %d), measurement %s (%s)\n",
		path, v.Signer(), v.LogIndex, m.MeasID, cli.Plural(len(m.Programs), "program"))
	return nil
}
