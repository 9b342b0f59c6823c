// Package gate is the kernel gate: BPF-LSM programs that refuse, at load
// time, every BPF program whose digest is not in a signed trust directory.
// See README.md in this directory.
package gate

//go:generate go run github.com/bpf2go-signed/bpf2go-signed/cmd/bpf2go-signed -target bpfel -sign-key gate.key -type event gate gate.c -- -I/usr/include/x86_64-linux-gnu
