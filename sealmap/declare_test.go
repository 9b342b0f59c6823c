package sealmap_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
)

func TestResolve(t *testing.T) {
	plan, err := build.Resolve(sealedSpec(t), sealmap.Config{
		Seal:     []string{"ports", ".rodata"},
		Contents: map[string][]byte{"ports": []byte(`{"entries":[{"key":22,"value":1}]}`)},
		Params:   []string{"mode"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// config is sealed by its __sealed annotation, ports by the flag;
	// .rodata is always sealed and not listed.
	if !slices.Equal(plan.Sealed, []string{"config", "ports"}) {
		t.Errorf("sealed %v, want [config ports]", plan.Sealed)
	}
	if !slices.Equal(plan.Params, []string{"mode"}) || len(plan.Contents["ports"]) != 1 {
		t.Errorf("plan %+v", plan)
	}
}

func withMap(ms *ebpf.MapSpec) *ebpf.CollectionSpec {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{ms.Name: ms}, Variables: map[string]*ebpf.VariableSpec{}}
	return spec
}

func TestResolveRefuses(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	lockValue := &btf.Struct{Name: "val", Size: 8, Members: []btf.Member{
		{Name: "n", Type: u32},
		{Name: "lock", Type: &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}, Offset: 32},
	}}
	timerValue := &btf.Struct{Name: "val", Size: 16, Members: []btf.Member{
		{Name: "t", Type: &btf.Typedef{Name: "timer_t", Type: &btf.Struct{Name: "bpf_timer", Size: 16}}},
	}}
	kptrValue := &btf.Struct{Name: "val", Size: 8, Members: []btf.Member{
		{Name: "task", Type: &btf.Pointer{Target: &btf.TypeTag{Value: "kptr", Type: &btf.Struct{Name: "task_struct"}}}},
	}}
	arr := func(name string, value btf.Type, size uint32) *ebpf.MapSpec {
		return &ebpf.MapSpec{Name: name, Type: ebpf.Array, KeySize: 4, ValueSize: size, MaxEntries: 1, Key: u32, Value: value}
	}
	tests := []struct {
		name string
		spec *ebpf.CollectionSpec
		cfg  sealmap.Config
		want string
	}{
		{"unknown map", sealedSpec(t), sealmap.Config{Seal: []string{"nosuch"}}, `"nosuch": the object has no map of that name (maps: .rodata, config, hits, ports)`},
		{"struct_ops", withMap(&ebpf.MapSpec{Name: "ops", Type: ebpf.StructOpsMap, KeySize: 4, ValueSize: 8, MaxEntries: 1}), sealmap.Config{Seal: []string{"ops"}}, "struct_ops maps cannot be frozen"},
		{"ring buffer", withMap(&ebpf.MapSpec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096}), sealmap.Config{Seal: []string{"rb"}}, "a RingBuf map has no content hash"},
		{"per-CPU array", withMap(&ebpf.MapSpec{Name: "pc", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}), sealmap.Config{Seal: []string{"pc"}}, "a PerCPUArray map has no content hash"},
		{"spin lock", withMap(arr("locked", lockValue, 8)), sealmap.Config{Seal: []string{"locked"}}, "holds a struct bpf_spin_lock"},
		{"timer", withMap(arr("timed", timerValue, 16)), sealmap.Config{Seal: []string{"timed"}}, "holds a struct bpf_timer"},
		{"kptr", withMap(arr("owned", kptrValue, 8)), sealmap.Config{Seal: []string{"owned"}}, "holds a kernel pointer (kptr)"},
		{".data", withMap(arr(".data", u32, 4)), sealmap.Config{Seal: []string{".data"}}, ".data and .bss are program state"},
		{"contents for unknown map", sealedSpec(t), sealmap.Config{Contents: map[string][]byte{"nosuch": []byte(`{"entries":[]}`)}}, `contents for "nosuch": the object has no map of that name`},
		{"contents for unsealed map", sealedSpec(t), sealmap.Config{Contents: map[string][]byte{"hits": []byte(`{"entries":[]}`)}}, "the map is not sealed; annotate it __sealed or pass -seal hits"},
		{"contents for .rodata", sealedSpec(t), sealmap.Config{Contents: map[string][]byte{".rodata": []byte(`{"entries":[]}`)}}, "contents of data sections come from the object"},
		{"contents too big", sealedSpec(t), sealmap.Config{Contents: map[string][]byte{"config": []byte(`{"entries":[{"key":9,"value":{}}]}`)}}, "index 9 out of range"},
		{"unknown param", sealedSpec(t), sealmap.Config{Params: []string{"nosuch"}}, `parameter "nosuch": the object has no global variable`},
		{"param twice", sealedSpec(t), sealmap.Config{Params: []string{"mode", "mode"}}, `parameter "mode" declared twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build.Resolve(tt.spec, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Resolve() = %v, want an error saying %q", err, tt.want)
			}
			if strings.HasPrefix(tt.name, "contents") || strings.Contains(tt.name, "param") {
				return
			}
			if !errors.Is(err, sealmap.ErrCannotSeal) {
				t.Errorf("error does not wrap ErrCannotSeal: %v", err)
			}
		})
	}
}

func TestParamInData(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../testdata/globals_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range spec.Variables {
		if v.SectionName != ".data" {
			continue
		}
		_, err := build.Resolve(spec, sealmap.Config{Params: []string{name}})
		if err == nil || !strings.Contains(err.Error(), "lives in .data, not in .rodata; declare it const volatile") {
			t.Fatalf("param in .data: %v", err)
		}
		return
	}
	t.Fatal("globals has no .data variable")
}

func TestPlanRoundTrip(t *testing.T) {
	spec := sealedSpec(t)
	plan, err := build.Resolve(spec, sealmap.Config{
		Seal:     []string{"ports"},
		Contents: map[string][]byte{"ports": []byte(`{"entries":[{"key":80,"value":0},{"key":22,"value":1}]}`)},
		Params:   []string{"mode"},
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := plan.Encode()
	back, err := sealmap.DecodePlan(enc, sealedSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if again := back.Encode(); string(again) != string(enc) {
		t.Errorf("plan does not round-trip:\n%s\n%s", enc, again)
	}
	for _, bad := range []string{``, `{"version":2}`, `{"version":1,"sealed":["nosuch"]}`, `{"version":1,"sealed":[],"params":[],"contents":{},"x":1}`, `{"version":1,"sealed":[],"params":["nosuch"]}`,
		// A plan holds contents in hex only: the loader does not decode typed values.
		`{"version":1,"sealed":["ports"],"params":[],"contents":{"ports":{"entries":[{"key":80,"value_hex":"00"}]}}}`,
		`{"version":1,"sealed":["ports"],"params":[],"contents":{"ports":{"entries":[{"key_hex":"5000","value_hex":"00"},{"key_hex":"5000","value_hex":"01"}]}}}`,
		`{"version":1,"sealed":["ports"],"params":[],"contents":{"ports":{"entries":[{"key_hex":"50","value_hex":"00"}]}}}`,
	} {
		if _, err := sealmap.DecodePlan([]byte(bad), sealedSpec(t)); err == nil {
			t.Errorf("plan %q accepted", bad)
		}
	}
}
