//go:build ignore

// newbuild.c: a program signed during the gate's test with a fresh key, to
// show that a trust-directory update admits it without a restart.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int gate_newbuild(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex == 0x5eed ? XDP_DROP : XDP_PASS;
}

char __license[] SEC("license") = "GPL";
