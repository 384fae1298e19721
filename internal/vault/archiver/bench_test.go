package archiver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// makeBenchTree makes a mixed tree in dir: many small text files, some
// random (incompressible) ones, a few large files that go through the
// chunker.
func makeBenchTree(b *testing.B, dir string) string {
	rng := rand.New(rand.NewPCG(1, 2))
	line := "Délibération du conseil municipal relative au budget de la commune et aux subventions. "
	for i := 0; i < 3000; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%05d.txt", i))
		var data []byte
		switch {
		case i%10 == 0:
			data = vaulttest.RandBytes(rng, 8<<10+rng.IntN(200<<10))
		case i%500 == 1:
			data = vaulttest.RandBytes(rng, 6<<20)
		default:
			data = []byte(strings.Repeat(line, 10+rng.IntN(300)))
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBackup measures a first backup with and without Sentinel (the
// detection's whole cost: observer, features in the nodes, assessment).
// REMPART_BENCH_TREE=DIR backs up DIR instead of a generated tree (e.g.
// the corpus of `go run ./bench/mkcorpus DIR 1`). Besides ns/op it
// reports the process's CPU time per backup, which other work on the
// machine disturbs less than wall time; run with -count to interleave.
func BenchmarkBackup(b *testing.B) {
	src := os.Getenv("REMPART_BENCH_TREE")
	if src == "" {
		src = makeBenchTree(b, b.TempDir())
	}
	for _, mode := range []struct {
		name string
		off  bool
	}{{"sentinel", false}, {"nosentinel", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var cpu time.Duration
			var bytes uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir, err := os.MkdirTemp("", "rempart-bench-repo-")
				if err != nil {
					b.Fatal(err)
				}
				be, err := local.Create(filepath.Join(dir, "repo"))
				if err != nil {
					b.Fatal(err)
				}
				r, _, err := repo.Init(context.Background(), be, vaulttest.Passphrase)
				if err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime()
				b.StartTimer()
				res, err := archiver.Backup(context.Background(), r, archiver.Options{Paths: []string{src}, Host: "bench", NoSentinel: mode.off})
				b.StopTimer()
				cpu += cpuTime() - c0
				if err != nil {
					b.Fatal(err)
				}
				bytes = res.Snapshot.Summary.BytesTotal
				_ = r.Close()
				_ = os.RemoveAll(dir)
				b.StartTimer()
			}
			b.SetBytes(int64(bytes))
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
