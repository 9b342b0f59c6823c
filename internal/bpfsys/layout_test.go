package bpfsys

import (
	"testing"
	"unsafe"
)

// TestLayout pins the sizes and offsets the kernel expects.
func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"Pointer", unsafe.Sizeof(Pointer{}), 8},
		{"objInfoAttr", unsafe.Sizeof(objInfoAttr{}), 16},
		{"elemAttr", unsafe.Sizeof(elemAttr{}), 32},
		{"batchAttr", unsafe.Sizeof(batchAttr{}), 56},
		{"ProgInfo", unsafe.Sizeof(ProgInfo{}), 80},
		{"ProgInfo.MapIDs", unsafe.Offsetof(ProgInfo{}.MapIDs), 56},
		{"ProgInfo.Name", unsafe.Offsetof(ProgInfo{}.Name), 64},
		{"MapInfo", unsafe.Sizeof(MapInfo{}), 104},
		{"MapInfo.MapExtra", unsafe.Offsetof(MapInfo{}.MapExtra), 80},
		{"MapInfo.Hash", unsafe.Offsetof(MapInfo{}.Hash), 88},
		{"MapInfo.HashSize", unsafe.Offsetof(MapInfo{}.HashSize), 96},
		{"LinkInfo", unsafe.Sizeof(LinkInfo{}), 32},
		{"LinkInfo.AttachType", unsafe.Offsetof(LinkInfo{}.AttachType), 16},
		{"LinkInfo.TargetBTFID", unsafe.Offsetof(LinkInfo{}.TargetBTFID), 24},
		{"linkCreateAttr", unsafe.Sizeof(linkCreateAttr{}), 32},
		{"linkCreateAttr.iterInfo", unsafe.Offsetof(linkCreateAttr{}.iterInfo), 16},
		{"progLoadAttr", unsafe.Sizeof(progLoadAttr{}), 120},
		{"progLoadAttr.progName", unsafe.Offsetof(progLoadAttr{}.progName), 48},
		{"progLoadAttr.expectedAttachType", unsafe.Offsetof(progLoadAttr{}.expectedAttachType), 68},
		{"progLoadAttr.attachBTFID", unsafe.Offsetof(progLoadAttr{}.attachBTFID), 108},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
