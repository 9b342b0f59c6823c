module github.com/bpf2go-signed/bpf2go-signed/agent

go 1.26.0

replace github.com/bpf2go-signed/bpf2go-signed => ../

require (
	github.com/bpf2go-signed/bpf2go-signed v0.0.0-00010101000000-000000000000
	github.com/cilium/ebpf v0.22.0
	golang.org/x/sys v0.49.0
)
