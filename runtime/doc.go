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
// It depends on cilium/ebpf and this project's measure, sealmap and attest
// packages, and on the standard library: no compiler, no go/packages, no
// KMS providers.
package runtime
