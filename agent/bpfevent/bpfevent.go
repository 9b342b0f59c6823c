// Package bpfevent tells of BPF program loads and unloads as the kernel
// makes them: it opens a software dummy perf event with attr.bpf_event set
// on every CPU (Linux 5.1+, CAP_PERFMON or CAP_SYS_ADMIN) and reads the
// PERF_RECORD_BPF_EVENT records the kernel writes to each CPU's ring.
//
// The kernel writes a record on the CPU where the program was loaded or
// released, so a reader needs one event per online CPU; records of
// different CPUs are not ordered with each other. When a ring is full the
// kernel drops records and later writes a PERF_RECORD_LOST record with
// their number, which the reader returns as a Lost event. CPUs brought
// online after Open are not read: loads there go unreported until the
// reader is opened again (package agent's periodic rescan finds them).
package bpfevent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kind says what an Event reports.
type Kind int

const (
	// Load: a program was loaded (PERF_BPF_EVENT_PROG_LOAD). Its id is
	// allocated before the record is written, so BPF_PROG_GET_FD_BY_ID
	// finds it unless it is already gone again.
	Load Kind = iota + 1
	// Unload: the last reference to a program was dropped
	// (PERF_BPF_EVENT_PROG_UNLOAD).
	Unload
	// Lost: the kernel dropped Count records because a ring was full.
	Lost
)

// String names the kind: load, unload or lost.
func (k Kind) String() string {
	switch k {
	case Load:
		return "load"
	case Unload:
		return "unload"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// Event is one record.
type Event struct {
	Kind Kind
	// ID is the program id (Load, Unload).
	ID uint32
	// Tag is the program tag the kernel reported (Load, Unload).
	Tag [8]byte
	// Time is when the kernel wrote the record, on CLOCK_MONOTONIC
	// (compare with Now).
	Time time.Duration
	// Count is the number of records dropped (Lost).
	Count uint64
	// CPU is the CPU whose ring held the record.
	CPU int
}

// ErrNotSupported is returned when the kernel cannot report BPF events: it
// is older than 5.1, or perf events are not allowed to this process.
var ErrNotSupported = errors.New("PERF_RECORD_BPF_EVENT not available")

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("bpfevent: reader closed")

// Now is the current time on the clock of Event.Time.
func Now() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// Bits of perf_event_attr that x/sys/unix does not name.
const (
	bitBPFEvent = 1 << 30 // attr.bpf_event (5.1+)
)

// Layout of the records read (include/uapi/linux/perf_event.h), with
// sample_id_all and sample_type PERF_SAMPLE_TIME: every record ends with
// the u64 time.
const (
	headerSize = 8
	// bpf_event: header, u16 type, u16 flags, u32 id, u8 tag[8], u64 time.
	bpfEventSize = headerSize + 2 + 2 + 4 + 8 + 8
	// lost: header, u64 id, u64 lost, u64 time.
	lostSize = headerSize + 8 + 8 + 8
)

type ring struct {
	cpu  int
	fd   int
	mem  []byte
	meta *unix.PerfEventMmapPage
	data []byte
}

// Reader reads the BPF events of every CPU.
type Reader struct {
	rings  []*ring
	epfd   int
	stopfd int // eventfd that wakes Read on Close
	evs    []unix.EpollEvent
	// pending holds decoded records not yet returned by Read.
	pending []Event
	mu      sync.Mutex
	closed  bool
}

// Open opens one dummy perf event with attr.bpf_event on each online CPU,
// each with a ring of ringPages pages (a power of two) for its records.
// It returns an error wrapping ErrNotSupported when the kernel or the
// process's privileges do not allow it.
func Open(ringPages int) (*Reader, error) {
	if ringPages <= 0 || ringPages&(ringPages-1) != 0 {
		return nil, fmt.Errorf("ring of %d pages: want a power of two", ringPages)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	r := &Reader{epfd: -1, stopfd: -1}
	fail := func(err error) (*Reader, error) {
		r.release()
		return nil, err
	}
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail(fmt.Errorf("epoll_create1: %w", err))
	}
	if r.stopfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail(fmt.Errorf("eventfd: %w", err))
	}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, r.stopfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}); err != nil {
		return fail(fmt.Errorf("epoll_ctl: %w", err))
	}
	for _, cpu := range cpus {
		rg, err := openRing(cpu, ringPages)
		if err != nil {
			return fail(err)
		}
		r.rings = append(r.rings, rg)
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, rg.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(len(r.rings) - 1)}); err != nil {
			return fail(fmt.Errorf("epoll_ctl: %w", err))
		}
	}
	r.evs = make([]unix.EpollEvent, len(r.rings)+1)
	return r, nil
}

func openRing(cpu, pages int) (*ring, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_SOFTWARE,
		Config:      unix.PERF_COUNT_SW_DUMMY,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample_type: unix.PERF_SAMPLE_TIME,
		// Wake the reader for every record: a watermark of one byte.
		Bits:    bitBPFEvent | unix.PerfBitSampleIDAll | unix.PerfBitUseClockID | unix.PerfBitWatermark,
		Wakeup:  1,
		Clockid: unix.CLOCK_MONOTONIC,
	}
	fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) ||
			errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("perf_event_open(dummy, bpf_event) on cpu %d: %w (%w)", cpu, ErrNotSupported, err)
		}
		return nil, fmt.Errorf("perf_event_open(dummy, bpf_event) on cpu %d: %w", cpu, err)
	}
	size := (1 + pages) * os.Getpagesize()
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mmap perf ring of cpu %d (%d bytes): %w", cpu, size, err)
	}
	meta := (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0]))
	off, dsize := meta.Data_offset, meta.Data_size
	if off == 0 { // kernels before 4.1 do not fill these
		off, dsize = uint64(os.Getpagesize()), uint64(pages*os.Getpagesize())
	}
	return &ring{cpu: cpu, fd: fd, mem: mem, meta: meta, data: mem[off : off+dsize]}, nil
}

// CPUs is the number of rings read.
func (r *Reader) CPUs() int { return len(r.rings) }

// Read returns the next event, waiting for one. It returns ErrClosed once
// Close was called. Read must not be called from several goroutines.
func (r *Reader) Read() (Event, error) {
	for len(r.pending) == 0 {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return Event{}, ErrClosed
		}
		// Drain every ring, then wait.
		for _, rg := range r.rings {
			r.pending = rg.drain(r.pending)
		}
		if len(r.pending) > 0 {
			break
		}
		n, err := unix.EpollWait(r.epfd, r.evs, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Event{}, fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range r.evs[:n] {
			if ev.Fd == -1 {
				return Event{}, ErrClosed
			}
		}
	}
	ev := r.pending[0]
	r.pending = r.pending[1:]
	if len(r.pending) == 0 {
		r.pending = r.pending[:0:0] // let a burst's backing array go
	}
	return ev, nil
}

// Close stops a Read in progress and frees the rings. It must be called
// once, when no Read will follow.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, err := unix.Write(r.stopfd, one[:])
	return err
}

// Release frees the rings and descriptors after Read has returned
// ErrClosed (or was never called).
func (r *Reader) Release() { r.release() }

func (r *Reader) release() {
	for _, rg := range r.rings {
		unix.Munmap(rg.mem)
		unix.Close(rg.fd)
	}
	r.rings = nil
	if r.epfd >= 0 {
		unix.Close(r.epfd)
		r.epfd = -1
	}
	if r.stopfd >= 0 {
		unix.Close(r.stopfd)
		r.stopfd = -1
	}
}

// drain appends the ring's complete records to evs and frees their space.
func (rg *ring) drain(evs []Event) []Event {
	head := atomic.LoadUint64(&rg.meta.Data_head)
	tail := rg.meta.Data_tail
	size := uint64(len(rg.data))
	var rec [64]byte
	for tail < head {
		// A record may wrap around the end of the ring: copy it out.
		copyOut(rec[:headerSize], rg.data, tail%size)
		typ := binary.NativeEndian.Uint32(rec[0:4])
		n := uint64(binary.NativeEndian.Uint16(rec[6:8]))
		if n < headerSize || tail+n > head {
			break // cannot happen with a sane kernel; stop rather than loop
		}
		if n <= uint64(len(rec)) {
			copyOut(rec[:n], rg.data, tail%size)
			if ev, ok := decode(typ, rec[:n]); ok {
				ev.CPU = rg.cpu
				evs = append(evs, ev)
			}
		}
		tail += n
	}
	atomic.StoreUint64(&rg.meta.Data_tail, tail)
	return evs
}

func copyOut(dst, ring []byte, off uint64) {
	n := copy(dst, ring[off:])
	if n < len(dst) {
		copy(dst[n:], ring)
	}
}

func decode(typ uint32, b []byte) (Event, bool) {
	switch typ {
	case unix.PERF_RECORD_BPF_EVENT:
		if len(b) < bpfEventSize {
			return Event{}, false
		}
		var ev Event
		switch binary.NativeEndian.Uint16(b[8:10]) {
		case unix.PERF_BPF_EVENT_PROG_LOAD:
			ev.Kind = Load
		case unix.PERF_BPF_EVENT_PROG_UNLOAD:
			ev.Kind = Unload
		default:
			return Event{}, false
		}
		ev.ID = binary.NativeEndian.Uint32(b[12:16])
		copy(ev.Tag[:], b[16:24])
		ev.Time = time.Duration(binary.NativeEndian.Uint64(b[24:32]))
		return ev, true
	case unix.PERF_RECORD_LOST:
		if len(b) < lostSize {
			return Event{}, false
		}
		return Event{Kind: Lost, Count: binary.NativeEndian.Uint64(b[16:24]),
			Time: time.Duration(binary.NativeEndian.Uint64(b[24:32]))}, true
	}
	return Event{}, false
}

// onlineCPUs parses /sys/devices/system/cpu/online ("0-3,5").
func onlineCPUs() ([]int, error) {
	raw, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(raw)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
