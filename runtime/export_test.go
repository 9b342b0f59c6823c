package runtime

import "github.com/cilium/ebpf"

// ResetCaches forgets cached keys, signature checks and plans.
var ResetCaches = resetCaches

// LoadTampered is [Load] with tamper called on the parsed spec before it
// is loaded: it stands for code in the same process that tampers with the
// programs or maps before they reach the kernel, with the object and its
// signature untouched.
func LoadTampered(o *Object, to any, opts *LoadOptions, tamper func(*ebpf.CollectionSpec)) (*Report, error) {
	sig, spec, err := prepare(o, opts)
	if err != nil {
		return nil, err
	}
	tamper(spec)
	return loadSpec(o, spec, sig, to, opts)
}
