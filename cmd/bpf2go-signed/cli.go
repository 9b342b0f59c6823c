package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bpf2go-signed/bpf2go-signed/gen"
	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

// tool is bpf2go-signed's command line: the generator, the node commands
// of internal/cli (which bpf2go-signed-node runs too) and the build-side
// commands.
var tool = &cli.Tool{
	Name:     "bpf2go-signed",
	Groups:   append([]cli.Group{{Name: "measure", Summary: "expected measurements of BPF objects"}}, cli.NodeGroups...),
	Commands: append(append([]*cli.Command{measureObjectCommand}, cli.NodeCommands()...), buildCommands...),
	Overview: printOverview,
	Footer:   printFooter,
	Generate: generate,
}

var measureObjectCommand = &cli.Command{
	Name:     "measure object",
	Synopsis: "FILE.o [--target-btf PATH]... [-j|-p]",
	Summary:  "print the expected measurement of every program in a BPF object",
	Detail: `Measures FILE.o as the loader and the signer do: per program the digest,
the kernel tag it implies, its CO-RE sites and its maps (with the content
hash of sealed maps). The sealing plan FILE.o.seal.json is used when it
exists. With --target-btf, CO-RE relocations are resolved against each
kernel BTF given, one digest per target whose byte order matches the object.`,
	Examples: []string{
		"bpf2go-signed measure object bpf_bpfel.o",
		"bpf2go-signed measure object bpf_bpfel.o --target-btf /sys/kernel/btf/vmlinux -p",
	},
	Run: runMeasureObject,
}

// buildCommands are the commands of the full tool beyond the node
// commands: measure object, signing, the agent and the gate.
var buildCommands = []*cli.Command{
	{
		Name:     "keygen",
		Synopsis: "[--output-key-prefix PREFIX] [--force]",
		Summary:  "write cosign.key (encrypted with $COSIGN_PASSWORD) and cosign.pub",
		Detail: `Writes a key pair in cosign's format: the private key is encrypted with
the password in $COSIGN_PASSWORD (asked for on a terminal when unset).`,
		Examples: []string{
			"COSIGN_PASSWORD=... bpf2go-signed keygen",
			"bpf2go-signed keygen --output-key-prefix release",
		},
		Run: keygen,
	},
	{
		Name:     "sign",
		Synopsis: "--key KEY [--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...",
		Summary:  "sign objects, or every object bpf2go-signed generated in the packages",
		Detail: `Measures each object and writes its signed envelope FILE.o.intoto.json.
KEY is a cosign or PEM private key file (password in $COSIGN_PASSWORD)
or a KMS URI (see README, "Cloud KMS keys"). With --target-btf, CO-RE
and kernel-resolved sites are resolved against each kernel BTF given,
one acceptable digest per target.`,
		Examples: []string{
			"bpf2go-signed sign --key cosign.key ./...",
			"bpf2go-signed sign --key cosign.key --target-btf btf/ internal/probe/bpf_bpfel.o",
		},
		Run: sign,
	},
	{
		Name:     "statement",
		Synopsis: "[--target-btf PATH]... (FILE.o | PACKAGE PATTERN)...",
		Summary:  "write FILE.o.statement.json, the statement to sign keylessly with cosign",
		Detail: `Measures each object as sign does and writes the exact in-toto statement the
loader expects, for a keyless signature in CI (GitHub Actions with
id-token: write): cosign attest-blob --statement FILE.o.statement.json
--new-bundle-format --bundle FILE.o.sigstore.json. The loader, generated with
-trust-identity and -trusted-root, embeds the bundle; rebuild after signing
(see docs/keyless.md).`,
		Examples: []string{
			"bpf2go-signed statement ./...",
			"cosign attest-blob --yes --new-bundle-format --statement bpf_bpfel.o.statement.json --bundle bpf_bpfel.o.sigstore.json",
		},
		Run: statement,
	},
	{
		Name:     "verify",
		Synopsis: "(--key PUB | --identity ID --trusted-root FILE) FILE.o",
		Summary:  "check FILE.o.intoto.json (or the keyless FILE.o.sigstore.json): exit 0 only for a valid signature over FILE.o",
		Detail: `With --key, checks the envelope FILE.o.intoto.json. With --identity
('issuer=URL;identity=SAN' or identity-regexp=RE, plus optional Fulcio
claims) and --trusted-root, checks the Sigstore bundle FILE.o.sigstore.json
offline: certificate chain at the logged time, SCT, Rekor entry, identity.`,
		Examples: []string{
			"bpf2go-signed verify --key cosign.pub bpf_bpfel.o",
			"bpf2go-signed verify --trusted-root trusted_root.json --identity 'issuer=https://token.actions.githubusercontent.com;identity=https://github.com/acme/filters/.github/workflows/release.yml@refs/tags/v1.0.0' bpf_bpfel.o",
		},
		Run: verify,
	},
	{
		Name:     "agent",
		Synopsis: "--trust DIR [--listen ADDR] [--log json|text] [options]",
		Summary:  "verify every program loaded on the host as it loads; serve the verdicts to Prometheus",
		Detail: `Runs bpf2go-signed-agent, a separate executable found next to
bpf2go-signed or on PATH, with the same arguments. It verifies every program
loaded on the host as the kernel reports the load, with the verdicts of
prog verify against DIR, and serves them on /metrics (and /healthz).
"bpf2go-signed-agent -h" lists all its options. Install it with
go install github.com/bpf2go-signed/bpf2go-signed/agent/cmd/bpf2go-signed-agent@latest.`,
		Examples: []string{
			"bpf2go-signed agent --trust /etc/bpf2go-signed/trust",
			"bpf2go-signed agent --trust /etc/bpf2go-signed/trust --listen :9813 --log text",
		},
		Run: runAgent,
	},
	{
		Name:     "gate",
		Synopsis: "--trust DIR [--mode enforce|audit] [--pin DIR] [--poll 1s] | --remove --pin DIR",
		Summary:  "kernel gate (BPF LSM): refuse or log every program load not signed in DIR",
		Detail: `Loads two BPF-LSM programs (the gate's own, signed, verified before they
attach) that make the kernel refuse with EPERM, at BPF_PROG_LOAD, every
program whose digest (the 8-byte tag before Linux 6.18, the full SHA-256
from 6.18 on) no envelope in DIR signs; refusals are logged on standard
output. --mode audit logs and allows. DIR is the trust directory of prog
verify; changes are picked up every --poll and on SIGHUP, atomically.
--pin DIR (on bpffs) keeps the gate enforcing after the process exits;
a new gate with the same --pin replaces it without a gap; --remove
removes it. Needs the BPF LSM (bpf in /sys/kernel/security/lsm): without
it the command says so and exits 1. See gate/README.md.`,
		Examples: []string{
			"bpf2go-signed gate --trust /etc/bpf2go-signed --mode audit",
			"bpf2go-signed gate --trust /etc/bpf2go-signed --pin /sys/fs/bpf/bpf2go-signed-gate",
			"bpf2go-signed gate --remove --pin /sys/fs/bpf/bpf2go-signed-gate",
		},
		Run: runGate,
	},
}

func runMeasureObject(c *cli.Command, args []string, stdout, stderr io.Writer) error {
	var o cli.Options
	words, err := o.Parse(c, args, func(fs *flag.FlagSet) {
		cli.TargetBTFFlag(fs, &o.TargetBTF)
	})
	if err != nil {
		return err
	}
	if len(words) != 1 {
		return fmt.Errorf("%w: measure object takes one FILE.o", cli.ErrUsage)
	}
	return measureObject(words[0], o, stdout)
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `bpf2go-signed: bpf2go that measures and signs BPF programs and generates
verifying loaders, and a bpftool-style tool to measure, sign and verify BPF
objects and the programs loaded on a host.

Usage:
  bpf2go-signed [generator options] <ident> <source> [-- <C flags>]
  bpf2go-signed COMMAND [ARGS] [OPTIONS]

`)
}

func printFooter(w io.Writer) {
	fmt.Fprint(w, `
Examples:
  //go:generate go tool bpf2go-signed -sign-key cosign.key -type event bpf probe.c
  bpf2go-signed keygen && bpf2go-signed sign --key cosign.key ./...
  bpf2go-signed prog verify --all --trust /etc/bpf2go-signed

Generator
=========
`)
	gen.Usage(w)
}
