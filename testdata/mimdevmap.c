// A map of maps whose inner maps are device maps: the XDP program
// redirects through whichever device map the outer map holds. A device
// map's values can name a program (struct bpf_devmap_val, Linux 5.8+)
// that runs on every packet redirected through the entry, so, as for a
// device map the program references directly, the signature does not
// bind what runs: the verdict is at best PARTIAL.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct tx_map {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u64); // struct bpf_devmap_val: ifindex, program
	__uint(max_entries, 4);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct tx_map);
} ports SEC(".maps");

SEC("xdp")
int mim_redirect(struct xdp_md *ctx)
{
	__u32 zero = 0;
	void *tx = bpf_map_lookup_elem(&ports, &zero);
	if (!tx)
		return XDP_PASS;
	return bpf_redirect_map(tx, 0, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
