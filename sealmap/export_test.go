package sealmap

import (
	"fmt"
	"reflect"

	"github.com/cilium/ebpf"
)

// LoadCollectionTesting is [LoadCollection] where the check of reused
// pinned maps hashes them in user space when readback is set, as on
// kernels without the map hash (before 6.18), and beforePin, when not nil,
// runs right before each fresh sealed map is pinned.
func LoadCollectionTesting(spec *ebpf.CollectionSpec, plan *Plan, opts *ebpf.CollectionOptions, readback bool, beforePin func(path string)) (*ebpf.Collection, error) {
	return loadCollection(spec, plan, opts, pinTesting{readback: readback, beforePin: beforePin})
}

// FrozenArraysReadable exposes the probe of the verifier.
func FrozenArraysReadable() error { return frozenArraysReadable() }

// Seal creates one map from ms, fills it with ms.Contents in one
// BPF_MAP_UPDATE_BATCH and freezes it: a sealed map outside a collection,
// for tests and benchmarks. ms must carry BPF_F_RDONLY_PROG. Loaders seal
// through [LoadCollection].
func Seal(ms *ebpf.MapSpec) (*ebpf.Map, error) {
	if ms.Flags&FlagRdonlyProg == 0 {
		return nil, fmt.Errorf("%w %s: the spec lacks BPF_F_RDONLY_PROG (apply the plan first)", ErrCannotSeal, ms.Name)
	}
	empty := ms.Copy()
	empty.Contents = nil
	m, err := ebpf.NewMap(empty)
	if err != nil {
		return nil, fmt.Errorf("seal %s: create: %w", ms.Name, err)
	}
	if n := len(ms.Contents); n > 0 {
		keys := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(int(ms.KeySize), reflect.TypeFor[byte]())), n, n)
		values := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(int(ms.ValueSize), reflect.TypeFor[byte]())), n, n)
		for i, kv := range ms.Contents {
			reflect.Copy(keys.Index(i), reflect.ValueOf(kv.Key))
			reflect.Copy(values.Index(i), reflect.ValueOf(kv.Value))
		}
		if done, err := m.BatchUpdate(keys.Interface(), values.Interface(), nil); err != nil || done != n {
			m.Close()
			return nil, fmt.Errorf("seal %s: batch update wrote %d of %d entries: %w", ms.Name, done, n, err)
		}
	}
	if err := freezeOnly(ms.Name, m); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}
