// Package gen is the generator behind "bpf2go-signed <ident> <source>": it
// does exactly what bpf2go v0.22.0 does (through cilium/ebpf's
// cmd/bpf2go/gen, so bpf2go's outputs are byte-for-byte bpf2go's), and per
// target also resolves the sealing plan, measures the object, signs the
// measurement (or writes an unsigned placeholder), and renders the
// verifying loader from package templates.
package gen
