//go:build ignore

// filter.c: an XDP port filter. It drops IPv4 and IPv6 TCP and UDP packets
// whose destination port is listed in the sealed map blocked_ports, and
// counts what it passes and drops in a per-CPU array. The run-time
// parameter mode chooses between enforcing (0) and counting only (1).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

/* Blocked destination ports, host byte order. Sealed: filled from
 * blocked_ports.json at build time, frozen before the program runs, and
 * bound by the signed measurement. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u8);
	__uint(max_entries, 64);
} blocked_ports SEC(".maps") __sealed;

enum counter {
	COUNTER_PASS = 0,    /* passed: not TCP/UDP, or port not blocked */
	COUNTER_DROP = 1,    /* dropped: blocked port, enforcing */
	COUNTER_MATCH = 2,   /* blocked port seen while counting only */
	COUNTER_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, COUNTER_MAX);
} counters SEC(".maps");

/* Run-time parameter: 0 = enforce, 1 = count only. */
const volatile __u32 mode = 0;

static __always_inline int count(__u32 which, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &which);
	if (n)
		*n += 1;
	return verdict;
}

/* dest_port returns the destination port of a TCP or UDP header at l4, in
 * host order, or 0 when there is none. */
static __always_inline __u16 dest_port(void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > end)
			return 0;
		return bpf_ntohs(tcp->dest);
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > end)
			return 0;
		return bpf_ntohs(udp->dest);
	}
	return 0;
}

SEC("xdp")
int port_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 port = 0;

	if ((void *)(eth + 1) > end)
		return count(COUNTER_PASS, XDP_PASS);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return count(COUNTER_PASS, XDP_PASS);
		port = dest_port((void *)ip + ip->ihl * 4, end, ip->protocol);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return count(COUNTER_PASS, XDP_PASS);
		port = dest_port(ip6 + 1, end, ip6->nexthdr);
	}

	if (port == 0 || !bpf_map_lookup_elem(&blocked_ports, &port))
		return count(COUNTER_PASS, XDP_PASS);
	if (mode == 1)
		return count(COUNTER_MATCH, XDP_PASS);
	return count(COUNTER_DROP, XDP_DROP);
}

char _license[] SEC("license") = "GPL";
