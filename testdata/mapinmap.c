// Maps of maps. policy is sealed but no instruction references it: programs
// reach it only through slot 0 of the outer array "policies", which the
// generator therefore seals too (filled, frozen, slots measured). tenants
// is an unsealed hash of maps: mutable data, bound by its descriptor and
// its inner-map template. spare looks like policy (same template) but
// nothing references it: a candidate for swapping into the outer slot.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

struct policy_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2);
};

struct policy_map policy SEC(".maps") __sealed;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct policy_map);
} policies SEC(".maps") = {
	.values = { [0] = &policy },
};

struct counter_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct counter_map);
} tenants SEC(".maps");

struct policy_map spare SEC(".maps");

SEC("xdp")
int mim_filter(struct xdp_md *ctx)
{
	__u32 zero = 0, one = 1;
	void *inner = bpf_map_lookup_elem(&policies, &zero);
	if (!inner)
		return XDP_PASS;
	__u32 *action = bpf_map_lookup_elem(inner, &one);
	void *counters = bpf_map_lookup_elem(&tenants, &zero);
	if (counters) {
		__u64 *n = bpf_map_lookup_elem(counters, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	if (action && *action == 1)
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
