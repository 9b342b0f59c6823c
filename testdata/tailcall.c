// Tail calls: a program array initialised in C (.values), so the generator
// seals it (filled with the object's own programs, then frozen). The two
// targets call each other through the same array (a cycle), and tail_b
// reads a .rodata constant, so a slot's program has inputs of its own.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 verdict_b = XDP_PASS;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 3);
} calls SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&calls, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
}

struct jmp_table {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
};

extern struct jmp_table jmp SEC(".maps");

SEC("xdp")
int tail_a(struct xdp_md *ctx)
{
	count(1);
	bpf_tail_call(ctx, &jmp, 1);
	return XDP_PASS;
}

SEC("xdp")
int tail_b(struct xdp_md *ctx)
{
	count(2);
	bpf_tail_call(ctx, &jmp, 0);
	return verdict_b;
}

struct jmp_table jmp SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_a,
		[1] = (void *)&tail_b,
	},
};

SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	count(0);
	bpf_tail_call(ctx, &jmp, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
