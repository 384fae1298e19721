package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func (e *engine) Close() error { return nil }

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
// without Sentinel, alternating, and returns the medians of three.
func overhead(ctx context.Context, dir string) (with, without time.Duration, err error) {
	work, err := os.MkdirTemp(filepath.Dir(dir), "overhead-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(work)
	var w, wo []time.Duration
	for i := 0; i < 6; i++ {
		be, err := local.Create(filepath.Join(work, fmt.Sprint("repo", i)))
		if err != nil {
			return 0, 0, err
		}
		r, _, err := repo.Init(ctx, be, "evaluation passphrase")
		if err != nil {
			return 0, 0, err
		}
		off := i%2 == 1
		t := time.Now()
		if _, err := archiver.Backup(ctx, r, archiver.Options{Paths: []string{dir}, Host: "overhead", NoSentinel: off}); err != nil {
			return 0, 0, err
		}
		if off {
			wo = append(wo, time.Since(t))
		} else {
			w = append(w, time.Since(t))
		}
	}
	med := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	return med(w), med(wo), nil
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
