//go:build race

package sentinel_test

// raceOn: the race detector slows the simulator's own work (zip, JPEG,
// base64) about tenfold; the evaluation test then uses a lighter run.
const raceOn = true
