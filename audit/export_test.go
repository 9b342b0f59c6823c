package audit

import "github.com/cilium/ebpf"

// LoadSpec parses the manifest's object as the audit does for CO-RE
// programs: read again from the trust directory and checked.
func (m *Manifest) LoadSpec() (*ebpf.CollectionSpec, error) { return m.loadSpec() }

// EachProgramFD is the walk of Trust.All, over raw fds.
var EachProgramFD = eachProgramFD
