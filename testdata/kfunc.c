// Sums the numbers 0..15 with the open-coded number iterator, three kfunc
// calls (bpf_iter_num_*, Linux 6.4+) that the kernel resolves by BTF id.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

/* As in linux/bpf.h (6.4+); older uapi headers lack it. */
struct bpf_iter_num_ {
	__u64 __opaque[1];
} __attribute__((aligned(8)));
#define bpf_iter_num bpf_iter_num_

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} sums SEC(".maps");

SEC("socket")
int sum_numbers(struct __sk_buff *skb)
{
	struct bpf_iter_num it;
	__u64 sum = 0;
	__u32 key = 0;
	int *v;

	bpf_iter_num_new(&it, 0, 16);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	bpf_map_update_elem(&sums, &key, &sum, BPF_ANY);
	return 0;
}
