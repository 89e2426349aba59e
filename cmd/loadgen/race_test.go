//go:build race

package main

// raceEnabled: the test binary was built with -race, so the bots it builds
// are too (their packages are then already compiled that way).
const raceEnabled = true
