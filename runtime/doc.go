// Package runtime is what binaries built with bpf2go-signed link: it loads
// an embedded BPF object, seals its input maps, asks the kernel what it
// holds, checks the signed measurement, applies a policy, and hands out the
// programs only when the policy accepts the verdict.
//
// Generated code imports it under an alias (it shadows the standard
// library's runtime package):
//
//	import bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
//
// Signatures are DSSE envelopes by trusted keys, or Sigstore bundles signed
// keylessly by trusted identities, verified offline against the embedded
// or policy trusted root. The keyless verifier (attest/keyless, through
// runtime/keyless) is linked only into loaders generated with
// -trust-identity: see [Keyless].
//
// It depends on cilium/ebpf and this project's measure, sealmap, attest and
// attest/identity packages, and on the standard library: no compiler, no
// go/packages, no KMS providers, no sigstore-go, no network, no
// crypto/x509.
package runtime
