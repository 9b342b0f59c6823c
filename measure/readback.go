package measure

// The user-space read-back: a frozen map's contents read through the kernel
// and hashed here, where the kernel cannot hash them itself.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// readbackHash reads a frozen map's contents through the kernel and hashes
// them with the algorithm measurement v2 uses for the map's type.
func readbackHash(fd int, info *bpfsys.MapInfo) (*Content, error) {
	typ := ebpf.MapType(info.Type)
	if typ == ebpf.Array && info.MapFlags&unix.BPF_F_MMAPABLE != 0 {
		if sum, err := mmapArrayHash(fd, info); err == nil {
			return &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(sum[:]), Source: SourceReadback}, nil
		}
		// Not mappable here (e.g. a 32-bit address space too small):
		// read it through the kernel instead.
	}
	if typ == ebpf.Array {
		h := sha256.New()
		pad := make([]byte, ((info.ValueSize+7)&^7)-info.ValueSize)
		err := readArray(fd, info, func(value []byte) {
			h.Write(value)
			h.Write(pad)
		})
		if err != nil {
			return nil, err
		}
		return &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(h.Sum(nil)), Source: SourceReadback}, nil
	}

	entries, err := readEntries(fd, info)
	if err != nil {
		return nil, err
	}
	sum, alg, err := HashContents(NativeOrder, typ, info.KeySize, info.ValueSize, info.MaxEntries, entries)
	if err != nil {
		return nil, err
	}
	return &Content{Algorithm: alg, Hash: hex.EncodeToString(sum[:]), Source: SourceReadback}, nil
}

// mmapArrayHash hashes a frozen BPF_F_MMAPABLE array (Linux 5.5+) through a
// read-only shared mapping of its values: the array's values are laid out
// there as the hash wants them, each padded to 8 bytes, so SHA-256 runs
// over the kernel's memory without copying it through BPF_MAP_LOOKUP_BATCH.
// Sound for a frozen map only: BPF_MAP_FREEZE fails while a writable
// mapping exists and the kernel refuses writable mappings of a frozen map
// (Linux 5.5+), so nothing can change the values from user space while
// they are hashed; programs cannot either, as sealed maps are
// BPF_F_RDONLY_PROG (the caller's comparison checks the flag).
func mmapArrayHash(fd int, info *bpfsys.MapInfo) ([32]byte, error) {
	size := uint64(info.MaxEntries) * ((uint64(info.ValueSize) + 7) &^ 7)
	page := uint64(unix.Getpagesize())
	length := (size + page - 1) &^ (page - 1)
	if size == 0 || length > uint64(int(^uint(0)>>1)) {
		return [32]byte{}, fmt.Errorf("array of %d bytes cannot be mapped", size)
	}
	mem, err := unix.Mmap(fd, 0, int(length), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return [32]byte{}, fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(mem)
	return sha256.Sum256(mem[:size]), nil
}

// readEntries reads every entry of a map through the kernel: in batches
// (BPF_MAP_LOOKUP_BATCH, Linux 5.6+) where the map type has them, else one
// BPF_MAP_GET_NEXT_KEY and one BPF_MAP_LOOKUP_ELEM per entry. A frozen map
// cannot change while it is read. Maps with a value per CPU are refused
// before anything is read: the buffers here hold value_size bytes per
// entry, the kernel would write one padded value per possible CPU.
func readEntries(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	if typ := ebpf.MapType(info.Type); perCPUValues(typ) {
		return nil, fmt.Errorf("%w: read back of a %s map (one value per CPU)", ErrUnsupported, typ)
	}
	entries, err := readEntriesBatch(fd, info)
	if errors.Is(err, bpfsys.ErrBatchUnsupported) {
		return readEntriesByKey(fd, info)
	}
	return entries, err
}

func readEntriesBatch(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	ks, vs := int(info.KeySize), int(info.ValueSize)
	entries := make([]Entry, 0, min(int(info.MaxEntries), batchSize(info)))
	err := lookupBatches(fd, info, true, func(keys, values []byte, n int) error {
		for i := range n {
			entries = append(entries, Entry{keys[i*ks : (i+1)*ks : (i+1)*ks], values[i*vs : (i+1)*vs : (i+1)*vs]})
		}
		if uint64(len(entries)) > uint64(info.MaxEntries) {
			return fmt.Errorf("more than max_entries (%d) entries", info.MaxEntries)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	return entries, nil
}

// readBatchBytes is about how many bytes of keys and values one batch
// lookup reads.
const readBatchBytes = 1 << 20

// batchSize is how many entries one batch lookup of the map asks for.
func batchSize(info *bpfsys.MapInfo) int {
	return max(1, min(int(info.MaxEntries), readBatchBytes/max(1, int(info.KeySize+info.ValueSize))))
}

// lookupBatches reads a map with BPF_MAP_LOOKUP_BATCH (Linux 5.6+) from
// its first entry to its last, calling fn with each batch's keys and
// values and the number of entries in them. With fresh, every batch gets
// new buffers, so fn may keep slices of them; otherwise the buffers are
// reused. An error wrapping [bpfsys.ErrBatchUnsupported] means the kernel
// or the map type has no batch lookups.
// This is the one batch reader of the measured path.
func lookupBatches(fd int, info *bpfsys.MapInfo, fresh bool, fn func(keys, values []byte, n int) error) error {
	chunk := batchSize(info)
	token := max(int(info.KeySize), 8)
	in, out := make([]byte, token), make([]byte, token)
	var keys, values []byte
	for first := true; ; first = false {
		if first || fresh {
			keys = make([]byte, int(info.KeySize)*chunk)
			values = make([]byte, int(info.ValueSize)*chunk)
		}
		var prev []byte
		if !first {
			prev = in
		}
		n, done, err := bpfsys.LookupBatch(fd, prev, out, keys, values, uint32(chunk))
		if err != nil {
			return err
		}
		if err := fn(keys, values, int(n)); err != nil {
			return err
		}
		if done {
			return nil
		}
		copy(in, out)
	}
}

func readEntriesByKey(fd int, info *bpfsys.MapInfo) ([]Entry, error) {
	var entries []Entry
	var key []byte
	for {
		next := make([]byte, info.KeySize)
		ok, err := bpfsys.NextKey(fd, key, next)
		if err != nil {
			return nil, fmt.Errorf("read back: %w", err)
		}
		if !ok {
			return entries, nil
		}
		if uint64(len(entries)) >= uint64(info.MaxEntries) {
			return nil, fmt.Errorf("read back: more than max_entries (%d) keys", info.MaxEntries)
		}
		value := make([]byte, info.ValueSize)
		if err := bpfsys.LookupElem(fd, next, value); err != nil {
			if errors.Is(err, unix.ENOENT) {
				key = next
				continue
			}
			return nil, fmt.Errorf("read back: %w", err)
		}
		entries = append(entries, Entry{next, value})
		key = next
	}
}

// readArray calls fn with the value of every index of an array, in order,
// read through the kernel: in batches where the kernel supports it (5.6+),
// one lookup per index otherwise. The slice passed to fn is reused.
func readArray(fd int, info *bpfsys.MapInfo, fn func(value []byte)) error {
	if typ := ebpf.MapType(info.Type); typ != ebpf.Array {
		return fmt.Errorf("read back: %s map read as an array", typ)
	}
	vs := int(info.ValueSize)
	read, batches := 0, 0
	err := lookupBatches(fd, info, false, func(keys, values []byte, n int) error {
		batches++
		for i := range n {
			if idx := binary.NativeEndian.Uint32(keys[4*i:]); int(idx) != read+i {
				return fmt.Errorf("read back: batch returned index %d at position %d", idx, read+i)
			}
			fn(values[i*vs : (i+1)*vs])
		}
		read += n
		return nil
	})
	if errors.Is(err, bpfsys.ErrBatchUnsupported) && batches == 0 {
		return readArrayByKey(fd, info, fn)
	}
	if err != nil {
		return fmt.Errorf("read back at index %d: %w", read, err)
	}
	if read != int(info.MaxEntries) {
		return fmt.Errorf("read back %d of %d array elements", read, info.MaxEntries)
	}
	return nil
}

func readArrayByKey(fd int, info *bpfsys.MapInfo, fn func(value []byte)) error {
	key := make([]byte, 4)
	value := make([]byte, info.ValueSize)
	for i := uint32(0); i < info.MaxEntries; i++ {
		binary.NativeEndian.PutUint32(key, i)
		if err := bpfsys.LookupElem(fd, key, value); err != nil {
			return fmt.Errorf("read back index %d: %w", i, err)
		}
		fn(value)
	}
	return nil
}

// readParams reads back a frozen one-element array holding parameters,
// reports their values, and hashes the contents with their bytes zeroed.
// Where the kernel hashed the map, the bytes read back must hash to the
// kernel's value.
func readParams(fd int, info *bpfsys.MapInfo, params []Param, kernelSum *[sha256.Size]byte, km *KernelMap) error {
	if ebpf.MapType(info.Type) != ebpf.Array || info.MaxEntries != 1 {
		return fmt.Errorf("parameters need a one-element array, found type %d with %d entries", info.Type, info.MaxEntries)
	}
	value := make([]byte, info.ValueSize)
	if err := bpfsys.LookupElem(fd, make([]byte, 4), value); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	entry := []Entry{{make([]byte, 4), value}}
	if kernelSum != nil {
		full, _ := HashArray(NativeOrder, info.ValueSize, 1, entry)
		if full != *kernelSum {
			return fmt.Errorf("contents read back hash to %x, the kernel reports %x", full, *kernelSum)
		}
	}
	for _, p := range params {
		end := uint64(p.Offset) + uint64(p.Size)
		if end > uint64(len(value)) {
			return fmt.Errorf("parameter %s (offset %d, size %d) lies outside the %d-byte value", p.Name, p.Offset, p.Size, len(value))
		}
		km.Params = append(km.Params, ParamValue{Param: p, Value: hex.EncodeToString(value[p.Offset:end])})
	}
	entry[0].Value = ZeroParams(value, params)
	sum, _ := HashArray(NativeOrder, info.ValueSize, 1, entry)
	source := SourceReadback + ", parameters zeroed"
	if kernelSum != nil {
		source += "; matches kernel hash"
	}
	km.Content = &Content{Algorithm: AlgArray, Hash: hex.EncodeToString(sum[:]), Source: source}
	return nil
}
