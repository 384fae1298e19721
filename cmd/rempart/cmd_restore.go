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
still restored; the damaged files are listed and the exit status is 1.`,
		Example: `  rempart restore latest --target /tmp/restore
  rempart restore 3f2a9c1d --target /tmp/r --include '/srv/shares/mairie/etat-civil'
  rempart restore latest --target /tmp/r --include '*.odt'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Target == "" {
				return usagef("give the folder to restore into with --target DIR")
			}
			ctx := cmd.Context()
			s, err := openRepo(ctx, sharedLock, "restore", true)
			if err != nil {
				return err
			}
			defer s.Close()
			sn, err := s.r.FindSnapshot(ctx, args[0])
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
	return cmd
}
