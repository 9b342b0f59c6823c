/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * bpf2go_signed.h: annotations understood by bpf2go-signed.
 *
 * __sealed marks a map as an input of the program. bpf2go-signed then
 *   - creates it with BPF_F_RDONLY_PROG (the verifier rejects any program
 *     write to it),
 *   - fills it with contents known at build time (the ELF, or a contents
 *     file given with -seal-contents NAME=FILE),
 *   - freezes it before the programs load (no syscall can write it), and
 *   - binds its contents into the signed measurement.
 *
 * Put the annotation after the section attribute:
 *
 *   struct {
 *       __uint(type, BPF_MAP_TYPE_ARRAY);
 *       __type(key, __u32);
 *       __type(value, struct config);
 *       __uint(max_entries, 1);
 *   } config SEC(".maps") __sealed;
 *
 * It is a BTF declaration tag (clang 14+), so it costs nothing at run time
 * and objects built with it still load with plain bpf2go/cilium/ebpf.
 * .rodata (const volatile globals) is always sealed; -seal NAME on the
 * command line does the same as the annotation.
 */
#ifndef __BPF2GO_SIGNED_H__
#define __BPF2GO_SIGNED_H__

#define BPF2GO_SIGNED_SEALED_TAG "bpf2go_signed:sealed"
#define __sealed __attribute__((btf_decl_tag(BPF2GO_SIGNED_SEALED_TAG)))

#endif /* __BPF2GO_SIGNED_H__ */
