//go:build ignore

// Counts packets on ingress and egress with tcx programs (Linux 6.6+),
// in global variables.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

/* TCX_PASS of linux/bpf.h (6.6+); older uapi headers lack it. */
#define PASS 0

__u64 ingress_pkt_count = 0;
__u64 egress_pkt_count = 0;

SEC("tcx/ingress")
int ingress_prog_func(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&ingress_pkt_count, 1);
	return PASS;
}

SEC("tcx/egress")
int egress_prog_func(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&egress_pkt_count, 1);
	return PASS;
}
