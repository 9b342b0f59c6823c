package measure

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// maxSlots bounds how many filled slots one map may have, and maxTailCalls
// how many programs one closure may reach, so that a hostile map cannot
// make a measurement run without end.
const (
	maxSlots     = 1 << 20
	maxTailCalls = 1 << 12
)

// readSlots reads the filled slots of a program array or map of maps
// through the kernel: a lookup from user space returns the id of the
// program or map in the slot (ENOENT for an empty slot). The inner maps of
// a map of maps are measured (descriptor, frozen state, content).
func readSlots(fd int, info *bpfsys.MapInfo, opts *KernelOptions, km *KernelMap) error {
	typ := ebpf.MapType(info.Type)
	value := make([]byte, 4)
	add := func(key []byte) error {
		if err := bpfsys.LookupElem(fd, key, value); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return fmt.Errorf("read slot %x: %w", key, err)
		}
		if len(km.Slots) >= maxSlots {
			return fmt.Errorf("more than %d filled slots", maxSlots)
		}
		id := binary.NativeEndian.Uint32(value)
		sl := KernelSlot{Key: hex.EncodeToString(key)}
		if typ == ebpf.ProgramArray {
			sl.ProgID = id
		} else {
			sl.MapID = id
			inner, err := kernelMapByID(id, opts, nil)
			if err != nil {
				return fmt.Errorf("slot %x: inner map id %d: %w", key, id, err)
			}
			sl.Map = inner
		}
		km.Slots = append(km.Slots, sl)
		return nil
	}
	if typ == ebpf.HashOfMaps {
		var key []byte
		for {
			next := make([]byte, info.KeySize)
			ok, err := bpfsys.NextKey(fd, key, next)
			if err != nil {
				return fmt.Errorf("read slots: %w", err)
			}
			if !ok {
				break
			}
			if err := add(next); err != nil {
				return err
			}
			key = next
		}
	} else {
		key := make([]byte, 4)
		for i := uint32(0); i < info.MaxEntries; i++ {
			binary.NativeEndian.PutUint32(key, i)
			if err := add(key); err != nil {
				return err
			}
		}
	}
	sort.Slice(km.Slots, func(i, j int) bool { return km.Slots[i].Key < km.Slots[j].Key }) // see sortNote in manifest.go
	return nil
}

// splitBound keeps the first n map ids (the maps the expected instructions
// reference, in the kernel's order) and, of the others, those a translated
// instruction loads (loads; xlated says whether the kernel gave the
// translated instructions); the rest are bound maps, recorded in kp. The
// kernel appends maps bound with BPF_PROG_BIND_MAP after the maps the
// instructions reference.
func splitBound(ids []uint32, n int, loads []bpfsys.MapLoad, xlated bool, kp *KernelProgram) []uint32 {
	if !xlated {
		// Without the translated instructions, extra maps cannot be told
		// apart from maps the instructions reference: all are compared.
		return ids
	}
	refs := map[uint32]bool{}
	for _, l := range loads {
		refs[l.MapID] = true
	}
	keep := slices.Clone(ids[:n])
	for _, id := range ids[n:] {
		if refs[id] {
			keep = append(keep, id)
			continue
		}
		bm := BoundMap{ID: id}
		if mfd, err := bpfsys.MapFDByID(id); err == nil {
			if info, err := bpfsys.MapDescriptor(mfd); err == nil {
				bm.Name, bm.Type = bpfsys.CString(info.Name[:]), ebpf.MapType(info.Type).String()
			}
			unix.Close(mfd)
		}
		kp.BoundMaps = append(kp.BoundMaps, bm)
	}
	return keep
}

// mapLoads encodes the kernel's map loads as [Program.MapLoads] does, each
// map by its index in kp.Maps; a load of a map that is not there (none
// should be) is written "?ID" and matches no signed load.
func mapLoads(loads []bpfsys.MapLoad, kp *KernelProgram) string {
	index := make(map[uint32]int, len(kp.Maps))
	for i, m := range kp.Maps {
		index[m.ID] = i
	}
	parts := make([]string, len(loads))
	for i, l := range loads {
		idx, ok := index[l.MapID]
		if !ok {
			parts[i] = fmt.Sprintf("?%d", l.MapID)
			continue
		}
		parts[i] = MapLoad{Map: idx, Value: l.Value, Off: l.Off}.String()
	}
	return strings.Join(parts, " ")
}

// closure measures the programs reachable from kp through the slots of
// program arrays, each once (tail calls may form cycles), against the
// programs the expected slots name, and attaches the links that target kp
// or any of them.
func closure(kp *KernelProgram, opts *KernelOptions) error {
	links := opts.Links
	if links == nil && !opts.NoLinks {
		var err error
		if links, err = EnumerateLinks(); err != nil {
			return err
		}
	}
	type node struct {
		kp       *KernelProgram
		expected *Program
	}
	seen := map[uint32]bool{kp.ID: true}
	queue := []node{{kp, opts.Expected}}
	var reached []*KernelProgram
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if links != nil {
			n.kp.Links = links.To(n.kp.ID)
			if links.Err != nil {
				n.kp.LinksError = links.Err.Error()
			}
		}
		for i := range n.kp.Maps {
			m := &n.kp.Maps[i]
			if ebpf.MapType(m.Type) != ebpf.ProgramArray {
				continue
			}
			var want *Map
			if n.expected != nil && i < len(n.expected.Maps) {
				want = &n.expected.Maps[i]
			}
			if n.expected != nil && (want == nil || !want.Sealed) {
				// The signature binds no slot of an unsealed program
				// array: what it holds is reported, not measured
				// (the verdict is at best PARTIAL, see Unbound).
				continue
			}
			for _, sl := range m.Slots {
				if seen[sl.ProgID] {
					continue
				}
				seen[sl.ProgID] = true
				if len(reached) >= maxTailCalls {
					return fmt.Errorf("program %s (id %d): more than %d programs reachable through tail calls", kp.Name, kp.ID, maxTailCalls)
				}
				var exp *Program
				name := ""
				if want != nil {
					for _, ws := range want.Slots {
						if ws.Key == sl.Key {
							name = ws.Program
						}
					}
				}
				if name != "" && opts.Manifest != nil {
					exp = opts.Manifest.Program(name)
				}
				tc, err := tailCall(sl.ProgID, opts, exp)
				if errors.Is(err, unix.ENOENT) {
					continue // left the slot while we looked
				}
				if err != nil {
					return fmt.Errorf("program %s (id %d): %s slot %s: %w", n.kp.Name, n.kp.ID, m.Name, sl.Key, err)
				}
				tc.MeasuredAs = name
				reached = append(reached, tc)
				queue = append(queue, node{tc, exp})
			}
		}
	}
	for _, tc := range reached {
		kp.TailCalls = append(kp.TailCalls, *tc)
	}
	return nil
}

func tailCall(id uint32, opts *KernelOptions, expected *Program) (*KernelProgram, error) {
	fd, err := bpfsys.ProgFDByID(id)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	o := *opts
	o.Expected = expected
	return kernelProgram(fd, nil, nil, &o)
}
