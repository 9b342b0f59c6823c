// Sealed inputs: a config array sealed by annotation (kernel hash path), a
// port table (hash map) sealed from the command line (user-space hash
// path), a .rodata with one run-time parameter (mode) and one constant
// (max_len), and a counter map that stays mutable.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

struct config {
	__u32 action; /* 1 = drop, 0 = pass */
	__u16 port;
	__u8 enabled;
	__u8 tags[3];  /* value size 10: padded to 16 in the kernel hash */
} __attribute__((packed));

enum verdict { VERDICT_PASS = 0, VERDICT_DROP = 1 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct config);
	__uint(max_entries, 4);
} config SEC(".maps") __sealed;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, enum verdict);
	__uint(max_entries, 16);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} hits SEC(".maps");

const volatile __u32 mode = 0;     /* parameter: 0 enforce, 1 count only */
const volatile __u32 max_len = 1500;

SEC("xdp")
int sealed_filter(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg || !cfg->enabled)
		return XDP_PASS;

	__u16 port = cfg->port;
	enum verdict *v = bpf_map_lookup_elem(&ports, &port);
	__u32 len = ctx->data_end - ctx->data;
	__u32 slot = (v && *v == VERDICT_DROP) || len > max_len;
	__u64 *n = bpf_map_lookup_elem(&hits, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	if (slot && mode == 0 && cfg->action == 1)
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
