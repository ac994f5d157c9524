//go:build race

package calling_test

// raceEnabled: the race detector slows pion down several times over.
const raceEnabled = true
