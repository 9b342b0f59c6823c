package runtime

import "github.com/cilium/ebpf"

// ResetCaches forgets cached keys, signature checks and plans.
var ResetCaches = resetCaches

// SetTamperHook makes every Load call fn on the parsed spec; nil removes it.
func SetTamperHook(fn func(*ebpf.CollectionSpec)) { tamperHook = fn }
