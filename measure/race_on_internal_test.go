//go:build race

package measure

// raceDetector says the tests run under the race detector, which makes
// pure computation about ten times slower.
const raceDetector = true
