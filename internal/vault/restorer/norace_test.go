//go:build !race

package restorer_test

const sparseSize = 1 << 30
