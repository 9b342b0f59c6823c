//go:build ignore

// unsigned.c: programs nobody signed, for the gate's tests. gate_target is
// an XDP program with a global function (a target for freplace) and a tail
// call; gate_tail is a tail-call target; gate_ext replaces decide().
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} jumps SEC(".maps");

__attribute__((noinline)) int decide(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int gate_target(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return decide(ctx);
}

SEC("xdp")
int gate_tail(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("freplace/decide")
int gate_ext(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char __license[] SEC("license") = "GPL";
