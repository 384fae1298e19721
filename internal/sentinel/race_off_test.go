//go:build !race

package sentinel_test

const raceOn = false
