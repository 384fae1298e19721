package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/restorer"
)

func newRestore() *cobra.Command {
	var opts restorer.Options
	var lastClean bool
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT --target DIR",
		Short: "Restore a snapshot into a folder",
		Long: `Restore files from a snapshot into the folder DIR. SNAPSHOT is an ID, the first
characters of one, or "latest". Files come back under DIR with their full
original path (DIR/srv/shares/...), with their modes, times, symlinks, hard
links, empty folders, and owners when run as root. Long runs of zeros become
holes, as in the original sparse files.

Existing files at the same place in DIR are overwritten. To restore in place
after an attack, restore to a new folder first and check it.

If a pack of the repository is damaged, every file that does not need it is
still restored; the damaged files are listed and the exit status is 1.

After ransomware, --last-clean restores a snapshot (the latest by default)
except the files Sentinel found hit: each of those comes from the last
snapshot where it was clean, under its name before the attack, and files the
attack made (ransom notes, encrypted copies) are left out.`,
		Example: `  rempart restore latest --target /tmp/restore
  rempart restore 3f2a9c1d --target /tmp/r --include '/srv/shares/mairie/etat-civil'
  rempart restore latest --target /tmp/r --include '*.odt'
  rempart restore --last-clean --target /tmp/clean`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Target == "" {
				return usagef("give the folder to restore into with --target DIR")
			}
			ref := "latest"
			switch {
			case len(args) == 1:
				ref = args[0]
			case !lastClean:
				return usagef("give the snapshot to restore: an ID, its first characters, or \"latest\" (see `rempart restore --help`)")
			}
			if lastClean && len(opts.Include) > 0 {
				return usagef("--last-clean restores a whole snapshot: it cannot be combined with --include")
			}
			ctx := cmd.Context()
			s, err := openRepo(ctx, sharedLock, "restore", true)
			if err != nil {
				return err
			}
			defer s.Close()
			sn, err := s.r.FindSnapshot(ctx, ref)
			if err != nil {
				return err
			}
			prog := &restorer.Progress{}
			opts.Progress = prog
			start := time.Now()
			var st *ui.Status
			if !g.quiet && !g.json {
				st = ui.StartStatus(os.Stderr, 250*time.Millisecond, func() string {
					done, total := prog.BytesDone.Load(), prog.BytesTotal.Load()
					frac := 0.0
					if total > 0 {
						frac = float64(done) / float64(total)
					}
					return fmt.Sprintf("%s %3.0f%% %s of %s, %d/%d files", ui.Bar(frac, 20), frac*100, ui.Bytes(done), ui.Bytes(total), prog.FilesDone.Load(), prog.FilesTotal.Load())
				})
			}
			if lastClean {
				res, err := restorer.LastClean(ctx, s.r, sn, opts)
				if st != nil {
					st.Stop()
				}
				return reportLastClean(sn.ID.Short(), opts.Target, res, err, time.Since(start))
			}
			res, err := restorer.Restore(ctx, s.r, sn, opts)
			if st != nil {
				st.Stop()
			}
			el := time.Since(start)
			if res != nil && g.json {
				_ = printJSON(map[string]any{"snapshot_id": sn.ID.String(), "target": opts.Target, "files": res.Files, "dirs": res.Dirs,
					"bytes": res.Bytes, "duration_seconds": el.Seconds(), "errors": res.Errors})
			}
			if res != nil && !g.json {
				for _, e := range res.Errors {
					fmt.Fprintf(os.Stderr, "could not restore %s: %s\n", e.Path, e.Err)
				}
				if !g.quiet {
					fmt.Printf("Restored %d files and %d folders (%s) from snapshot %s into %s in %s\n", res.Files, res.Dirs, ui.Bytes(res.Bytes), sn.ID.Short(), opts.Target, ui.Duration(el))
				}
			}
			if errors.Is(err, restorer.ErrDamaged) {
				return fmt.Errorf("%w; the other files were restored. Run `rempart check --read-data` to see what is damaged", err)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&opts.Target, "target", "t", "", "folder to restore into (created if needed)")
	cmd.Flags().StringArrayVarP(&opts.Include, "include", "i", nil, "restore only paths matching a pattern (repeatable): a full path like '/srv/shares/rh', or a name like '*.pdf'")
	cmd.Flags().BoolVar(&lastClean, "last-clean", false, "after ransomware: take every file Sentinel found hit from its last clean snapshot, leave out what the attack made (SNAPSHOT defaults to latest)")
	return cmd
}

// reportLastClean prints what a last-clean restore took from where.
func reportLastClean(snap, target string, res *restorer.LastCleanResult, err error, el time.Duration) error {
	if errors.Is(err, restorer.ErrNotAssessed) {
		return fmt.Errorf("%w: nothing says which of its files are clean; restore it without --last-clean, or pick a snapshot made by this version (`rempart snapshots` shows a verdict)", err)
	}
	if res == nil {
		return err
	}
	if g.json {
		_ = printJSON(map[string]any{"snapshot_id": res.Snapshot, "target": target, "files_from_snapshot": res.FromLatest,
			"files_from_clean": len(res.FromClean), "files_skipped": len(res.Skipped), "from_clean": res.FromClean, "skipped": res.Skipped,
			"dirs": res.Dirs, "bytes": res.Bytes, "duration_seconds": el.Seconds(), "errors": res.Errors})
	} else {
		for _, e := range res.Errors {
			fmt.Fprintf(os.Stderr, "could not restore %s: %s\n", e.Path, e.Err)
		}
		if !g.quiet {
			fmt.Printf("Restored into %s in %s: %d files from snapshot %s, %d from earlier clean versions, %d skipped\n",
				target, ui.Duration(el), res.FromLatest, snap, len(res.FromClean), len(res.Skipped))
			if len(res.FromClean) > 0 {
				fmt.Println("From earlier clean versions:")
				for i, f := range res.FromClean {
					if i == maxAffectedShown {
						fmt.Printf("  ... and %d more (--json lists them all)\n", len(res.FromClean)-i)
						break
					}
					line := fmt.Sprintf("  %s  (from %s", f.Path, short8(f.Snapshot))
					if f.Affected != "" {
						line += "; the attack left " + f.Affected
					}
					fmt.Println(line + ")")
				}
			}
			if len(res.Skipped) > 0 {
				fmt.Println("Not restored:")
				for i, f := range res.Skipped {
					if i == maxAffectedShown {
						fmt.Printf("  ... and %d more (--json lists them all)\n", len(res.Skipped)-i)
						break
					}
					fmt.Printf("  %s  (%s)\n", f.Path, f.Reason)
				}
			}
			fmt.Println("Check the files in the target folder before putting them back in place.")
		}
	}
	if errors.Is(err, restorer.ErrDamaged) {
		return fmt.Errorf("%w; the other files were restored. Run `rempart check --read-data` to see what is damaged", err)
	}
	return err
}
