module github.com/bpf2go-signed/bpf2go-signed

go 1.26

require (
	github.com/cilium/ebpf v0.22.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
