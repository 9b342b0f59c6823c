package sealmap

// SetPinReadback makes the check of reused pinned maps hash them in user
// space, as on kernels without the map hash (before 6.18).
func SetPinReadback(v bool) (restore func()) {
	old := pinReadback
	pinReadback = v
	return func() { pinReadback = old }
}

// FrozenArraysReadable exposes the probe of the verifier.
func FrozenArraysReadable() error { return frozenArraysReadable() }

// SetBeforePin runs fn right before each fresh sealed map is pinned.
func SetBeforePin(fn func(path string)) (restore func()) {
	old := beforePin
	beforePin = fn
	return func() { beforePin = old }
}
