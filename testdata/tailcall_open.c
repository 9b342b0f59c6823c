// A program array with no initial values: its slots are filled at run time
// by whoever holds it, so the signature cannot bind them. The generator
// refuses it unless -unsealed-prog-array names it; then the verdict is at
// best PARTIAL ("tail-call targets not bound").
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} dispatch SEC(".maps");

SEC("xdp")
int open_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &dispatch, 0);
	return XDP_PASS;
}

SEC("xdp")
int open_target(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
