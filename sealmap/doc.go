// Package sealmap seals the maps that are inputs of a BPF program: it
// checks which maps are sealed ([Resolve]), prepares their specs at build
// time and at load time ([Plan.Apply]), decodes the plan the generated
// loader embeds ([DecodePlan], contents in raw hex), and at load time has
// cilium/ebpf create and fill them and freezes them ([LoadCollection]); the
// measurement (package measure) then confirms through the kernel that they
// are frozen. The build side (typed contents files, measuring an object
// under its plan) is package sealmap/build, which shipped binaries do not
// link.
//
// A sealed map is read-only from both sides: it is created with
// BPF_F_RDONLY_PROG, so the verifier rejects programs that write it, and
// frozen with BPF_MAP_FREEZE (Linux 5.2+) once filled, so no system call can
// write it. Its contents are then bound by the measurement (package
// measure).
package sealmap
