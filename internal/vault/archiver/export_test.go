package archiver

import "github.com/rempart/rempart/internal/sentinel"

// SetAssess replaces sentinel.Assess for a test and returns what undoes it.
func SetAssess(f func(sentinel.Input) sentinel.Report) (restore func()) {
	old := assess
	assess = f
	return func() { assess = old }
}
