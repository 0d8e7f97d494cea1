//go:build race

package verify_test

// raceEnabled: the exhaustive loops over one bundle (every prefix, every
// byte) test single-goroutine parsing, where the race detector finds
// nothing and only multiplies the time; under -race they sample.
const raceEnabled = true
