// Package demo runs Rempart's tour on embedded defaults: it creates a
// repository in a temporary folder, backs up a small town's sample folder,
// changes a few files as a user would, backs up again, restores, and proves
// the restored files identical. Nothing outside the temporary folder is
// touched.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
)

// Options of the demo.
type Options struct {
	Dir  string // where to work; a new temporary folder when empty
	Keep bool   // keep the folder afterwards
	Out  io.Writer
}

// Run plays the demo and returns the folder it used.
func Run(ctx context.Context, o Options) (string, error) {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	dir := o.Dir
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rempart-demo-"); err != nil {
			return "", err
		}
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	sample := filepath.Join(dir, "mairie")
	repoDir := filepath.Join(dir, "repository")
	target := filepath.Join(dir, "restored")
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n==> "+format+"\n", args...) }

	step("Sample folder of a small town hall: %s", sample)
	n, size, err := MakeSample(sample)
	if err != nil {
		return dir, err
	}
	fmt.Fprintf(out, "    %d files, %s (civil registry, council minutes, payroll CSV, photos, a disk image with holes)\n", n, ui.Bytes(uint64(size)))

	step("rempart init: a new encrypted repository in %s", repoDir)
	be, err := local.Create(repoDir)
	if err != nil {
		return dir, err
	}
	r, rk, err := repo.Init(ctx, be, "demo passphrase, change me")
	if err != nil {
		return dir, err
	}
	fmt.Fprintf(out, "    recovery key (for paper): %s\n", rk)

	step("rempart backup %s", sample)
	res, err := archiver.Backup(ctx, r, archiver.Options{Paths: []string{sample}, Host: "demo", Program: "rempart demo"})
	if err != nil {
		return dir, err
	}
	s1 := res.Snapshot
	fmt.Fprintf(out, "    snapshot %s: %d files, read %s, stored %s after dedup and compression, in %s\n", s1.ID.Short(),
		s1.Summary.FilesNew, ui.Bytes(s1.Summary.BytesRead), ui.Bytes(s1.Summary.BytesAddedPacked), ui.Duration(time.Duration(s1.Summary.DurationSeconds*1e9)))

	step("A clerk edits the council minutes and adds a birth certificate; backup again")
	time.Sleep(10 * time.Millisecond)
	if err := appendFile(filepath.Join(sample, "conseil", "compte-rendu-2026-10.txt"), "\nPoint 7: budget adopté à l'unanimité.\n"); err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(sample, "etat-civil", "naissance-2026-0412.txt"), []byte("Acte de naissance n° 2026-0412\n"), 0o644); err != nil {
		return dir, err
	}
	res, err = archiver.Backup(ctx, r, archiver.Options{Paths: []string{sample}, Host: "demo", Program: "rempart demo"})
	if err != nil {
		return dir, err
	}
	s2 := res.Snapshot
	fmt.Fprintf(out, "    snapshot %s: %d new, %d changed, %d unchanged (not read again); added %s\n", s2.ID.Short(),
		s2.Summary.FilesNew, s2.Summary.FilesChanged, s2.Summary.FilesUnchanged, ui.Bytes(s2.Summary.BytesAddedPacked))

	step("rempart check --read-data: every byte verified")
	rep, err := checker.Check(ctx, r, checker.Options{ReadData: true})
	if err != nil {
		return dir, err
	}
	if !rep.OK() {
		return dir, fmt.Errorf("check found problems: %+v", rep.Problems)
	}
	fmt.Fprintf(out, "    %d snapshots, %d packs, %s read: no problem\n", rep.Snapshots, rep.Packs, ui.Bytes(rep.BytesRead))

	step("rempart restore latest --target %s", target)
	start := time.Now()
	rres, err := restorer.Restore(ctx, r, s2, restorer.Options{Target: target})
	if err != nil {
		return dir, err
	}
	fmt.Fprintf(out, "    %d files, %s in %s\n", rres.Files, ui.Bytes(rres.Bytes), ui.Duration(time.Since(start)))

	step("Compare the restored folder with the original")
	diffs, err := Compare(sample, filepath.Join(target, sample))
	if err != nil {
		return dir, err
	}
	if len(diffs) > 0 {
		return dir, fmt.Errorf("restored tree differs: %s", strings.Join(diffs, "; "))
	}
	fmt.Fprintf(out, "    identical: every file, folder, symlink, mode and time\n")
	if o.Keep {
		fmt.Fprintf(out, "\nEverything is in %s (passphrase: \"demo passphrase, change me\"). Try:\n  rempart --repo %s snapshots\n", dir, repoDir)
	}
	return dir, nil
}

func appendFile(p, s string) error {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Compare walks two trees and lists the differences in content, type,
// mode, mtime and symlink target.
func Compare(a, b string) ([]string, error) {
	var diffs []string
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		q := filepath.Join(b, rel)
		fa, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fb, err := os.Lstat(q)
		if err != nil {
			diffs = append(diffs, rel+": missing")
			return nil
		}
		if fa.Mode() != fb.Mode() {
			diffs = append(diffs, fmt.Sprintf("%s: mode %v vs %v", rel, fa.Mode(), fb.Mode()))
		}
		if !fa.ModTime().Equal(fb.ModTime()) {
			diffs = append(diffs, fmt.Sprintf("%s: mtime %v vs %v", rel, fa.ModTime(), fb.ModTime()))
		}
		switch {
		case fa.Mode().IsRegular():
			x, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			y, err := os.ReadFile(q)
			if err != nil {
				return err
			}
			if !bytes.Equal(x, y) {
				diffs = append(diffs, rel+": content differs")
			}
		case fa.Mode()&fs.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				diffs = append(diffs, rel+": link target differs")
			}
		}
		return nil
	})
	return diffs, err
}
