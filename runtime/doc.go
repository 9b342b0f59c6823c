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
// # Generated loaders
//
// For an object <stem> (e.g. bpf_bpfel.o), bpf2go-signed writes, next to
// bpf2go's <stem>.go, a <stem>_signed.go that embeds the object's DSSE
// envelope (its signed measurement, or an unsigned placeholder until
// "bpf2go-signed sign --key KEY ./..." signs it; rebuild after signing),
// its sealing plan (which maps are sealed, with which contents, and which
// read-only globals are parameters) and the public keys, or with
// -trust-identity the Sigstore bundle, trusted root and identities, the
// loader trusts by default. It declares, for the identifier Bpf:
//
//   - loadBpfObjectsVerified(obj, opts, policy), which loads the object
//     like bpf2go's loadBpfObjects(obj, opts) and hands the objects out
//     only once the kernel's measurement of every program matches the
//     signed one and the policy accepts the verdict: it is [Load] with
//     [LoadOptions]{Collection: opts, Policy: policy}. A nil policy trusts
//     what was embedded at generate time and accepts OK only. When the
//     policy refuses, every object the load opened is closed and the error
//     is an *[Error] carrying the [Report].
//   - with -param, bpfParams, one field per parameter (the read-only global
//     in CamelCase: mode becomes Mode), and
//     loadBpfObjectsVerifiedWithParams(obj, opts, policy, params), which
//     sets them at load time (LoadOptions.Params). The parameters are
//     excluded from the signed contents and shown in the report with the
//     value the kernel holds; a nil params keeps the values compiled into
//     the object.
//   - recheckBpfObjects(obj, report), which is [Recheck]: it measures the
//     programs in obj again through the kernel and compares them with the
//     report of the verified load. Call it right before attaching.
//
// The arguments come in one order everywhere: what to fill, cilium/ebpf's
// collection options, the policy, the parameters.
//
// Signatures are DSSE envelopes by trusted keys, or Sigstore bundles signed
// keylessly by trusted identities, verified offline against the embedded
// or policy trusted root. The keyless verifier (attest/keyless, through
// runtime/keyless) is linked only into loaders generated with
// -trust-identity: see [Keyless].
//
// Trusted keys (embedded with -trust-key, or Policy.TrustedKeys) are of
// the key families the loader names in [Object.KeyAlgorithms] (ECDSA,
// Ed25519, RSA; by default those of the keys given at generate time, or
// -key-algorithms), and the loader links the verification of those
// families only; a key of another family is refused before anything is
// loaded ([ErrKeyAlgorithm]).
//
// It depends on cilium/ebpf and this project's measure, sealmap, attest and
// attest/identity packages, and on the standard library: no compiler, no
// go/packages, no KMS providers, no sigstore-go, no network, no
// crypto/x509.
package runtime
