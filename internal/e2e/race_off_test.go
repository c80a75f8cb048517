//go:build !race

package e2e_test

// raceEnabled says the race detector is on: it slows every request
// several times, so the load test lowers its rate.
const raceEnabled = false
