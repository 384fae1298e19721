//go:build race

package restorer_test

const sparseSize = 256 << 20
