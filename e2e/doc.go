// Package e2e holds Rempart's end-to-end tests. They build the real rempart
// binary once (TestMain) and drive it as a user would: as a subprocess, with
// a clean environment, no terminal on stdin, and every file in temporary
// folders. Run them with:
//
//	go test -count=1 ./e2e/...
//
// Some tests need root (to mount a small file system for the full-disk and
// read-only cases); they fall back to other techniques or skip when that is
// not possible. The crash tests generate about 200 MB of data and take one
// to two minutes on two cores; `go test -short` shrinks them.
package e2e
