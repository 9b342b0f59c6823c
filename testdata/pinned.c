// Sealed maps pinned by name (LIBBPF_PIN_BY_NAME), one of each sealable
// type: a one-element config array, a port table (hash) and a prefix
// list (LPM trie), plus a pinned counter map that stays mutable. A second
// start reuses the pinned sealed maps only when they are frozen,
// read-only for programs and hold the signed contents.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

struct pin_config {
	__u32 action;
	__u16 port;
	__u8 enabled;
};

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pin_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pin_config SEC(".maps") __sealed;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u32);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pin_ports SEC(".maps") __sealed;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_key);
	__type(value, __u32);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pin_prefixes SEC(".maps") __sealed;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pin_hits SEC(".maps");

SEC("socket")
int pinned_filter(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct pin_config *cfg = bpf_map_lookup_elem(&pin_config, &zero);
	if (!cfg || !cfg->enabled)
		return 0;
	__u16 port = cfg->port;
	__u32 *verdict = bpf_map_lookup_elem(&pin_ports, &port);
	struct lpm_key k = { .prefixlen = 32, .addr = skb->hash };
	__u32 *listed = bpf_map_lookup_elem(&pin_prefixes, &k);
	__u32 slot = (verdict && *verdict) || listed;
	__u64 *n = bpf_map_lookup_elem(&pin_hits, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return slot && cfg->action ? 0 : skb->len;
}

char _license[] SEC("license") = "GPL";
