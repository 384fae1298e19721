package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/sentinel/simulate"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/repo"
)

// EngineRunner makes real backups: a repository in a local folder, and
// archiver.Backup of the scenario's folder each time, as `rempart backup`
// does. The report is the one sealed into the snapshot (Result.Sentinel,
// the same value as the snapshot body's sentinel field).
var EngineRunner = simulate.RunnerFactory{Name: "engine", New: newEngine}

type engine struct {
	r *repo.Repository
}

func newEngine(work string) (simulate.Runner, error) {
	dir := filepath.Join(work, "repo")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	be, err := local.Create(dir)
	if err != nil {
		return nil, err
	}
	r, _, err := repo.Init(context.Background(), be, "evaluation passphrase")
	if err != nil {
		return nil, err
	}
	return &engine{r: r}, nil
}

func (e *engine) Close() error { return e.r.Close() }

func (e *engine) Backup(ctx context.Context, dir string) (*sentinel.Report, error) {
	res, err := archiver.Backup(ctx, e.r, archiver.Options{Paths: []string{dir}, Host: "evaluation", Program: "bench/sentinel"})
	if err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		return nil, errors.New("backup could not read " + res.Errors[0].Path + ": " + res.Errors[0].Err)
	}
	if res.Sentinel == nil {
		return nil, errors.New("the archiver made no Sentinel report")
	}
	rep := *res.Sentinel
	relative(&rep, dir)
	return &rep, nil
}

// overhead times first backups of dir into fresh repositories, with and
// without Sentinel, alternating (nine of each), and returns the fastest
// of each: other work on the machine only ever adds time, so the fastest
// run is the best estimate of the intrinsic cost.
func overhead(ctx context.Context, dir string) (simulate.Overhead, error) {
	const runs = 9
	var o simulate.Overhead
	work, err := os.MkdirTemp(filepath.Dir(dir), "overhead-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(work)
	var wall, wallOff, cpu, cpuOff []time.Duration
	for i := 0; i < 2*runs; i++ {
		rd := filepath.Join(work, fmt.Sprint("repo", i))
		be, err := local.Create(rd)
		if err != nil {
			return o, err
		}
		r, _, err := repo.Init(ctx, be, "evaluation passphrase")
		if err != nil {
			return o, err
		}
		off := i%2 == 1
		t, c := time.Now(), cpuTime()
		_, err = archiver.Backup(ctx, r, archiver.Options{Paths: []string{dir}, Host: "overhead", NoSentinel: off})
		dw, dc := time.Since(t), cpuTime()-c
		_ = r.Close()
		_ = os.RemoveAll(rd)
		if err != nil {
			return o, err
		}
		if off {
			wallOff, cpuOff = append(wallOff, dw), append(cpuOff, dc)
		} else {
			wall, cpu = append(wall, dw), append(cpu, dc)
		}
	}
	return simulate.Overhead{Runs: runs, Wall: slices.Min(wall), WallWithout: slices.Min(wallOff), CPU: slices.Min(cpu), CPUWithout: slices.Min(cpuOff)}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// relative rewrites the report's paths (the snapshot's, absolute) relative
// to the backed-up folder, as the scenarios name files.
func relative(rep *sentinel.Report, dir string) {
	abs, _ := filepath.Abs(dir)
	prefix := strings.TrimPrefix(filepath.ToSlash(abs), "/") + "/"
	cut := func(p string) string {
		q := strings.TrimPrefix(p, "/")
		if strings.HasPrefix(q, prefix) {
			return q[len(prefix):]
		}
		return p
	}
	for i := range rep.Affected {
		a := &rep.Affected[i]
		a.Path = cut(a.Path)
		if a.LastCleanPath != "" {
			a.LastCleanPath = cut(a.LastCleanPath)
		}
	}
}
