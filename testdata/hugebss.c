// Hostile fixture: a .bss section of almost 4 GiB, which the ELF reader
// would allocate (twice) before anything is measured. Reading it must fail
// with one line.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char scratch[0xfffffff0UL];

SEC("socket")
int hugebss_prog(struct __sk_buff *skb)
{
	scratch[skb->len & 0xff] = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
