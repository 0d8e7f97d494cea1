//go:build race

package main

// raceEnabled reports whether the tests run under the race detector, for
// the scripts' [race] condition.
const raceEnabled = true
