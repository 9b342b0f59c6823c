// Package measure defines measurement v2 of bpf2go-signed and computes it on
// both sides of a load:
//
//   - at build time, from an [ebpf.CollectionSpec], exactly as cilium/ebpf
//     v0.22.0 will submit each program to BPF_PROG_LOAD ([Collection]);
//   - at run time, from data the kernel owns and reports about a loaded
//     program ([Kernel], [KernelFD]).
//
// [Manifest.Compare] matches the two field by field over the program's
// closure (the programs its sealed program arrays hold, the maps its maps
// of maps hold, the links that target any of them) and names every
// difference; [Manifest.Unbound] says what the signature does not bind.
// The definition is written down in docs/measurement.md; this package is its
// only implementation, shared by the generator, the generated loaders and the
// command line tool. The build side measures an object under its sealing
// plan through sealmap/build.Measure.
//
// What the kernel supports is probed, not read from its version: the
// probes ([HaveMapHash], [HaveProgDigest]) return nil or an error wrapping
// [ebpf.ErrNotSupported], once per process, and the measurement falls back
// where a feature is missing (contents read back and hashed in user space
// without the kernel's map hash; the frozen state from fdinfo without a
// reliable write probe; the SHA-1 tag before Linux 6.18).
package measure
