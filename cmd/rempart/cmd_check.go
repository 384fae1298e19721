package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/checker"
)

func newCheck() *cobra.Command {
	var opts checker.Options
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the repository (and with --read-data, every byte)",
		Long: `Verify that the repository is whole: every index file, snapshot and folder
listing can be read, every chunk a snapshot needs is indexed, and every pack is
present with the right size.

With --read-data, every pack is also read in full: its bytes must still hash
to its name, and every chunk must decrypt and match its ID. This proves that a
restore would succeed; run it regularly (it reads the whole repository).

When something is damaged, check names the snapshots and the files that can no
longer be restored in full, and exits with status 1. Everything else can still
be restored.`,
		Example: `  rempart check
  rempart check --read-data --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, sharedLock, "check", false)
			if err != nil {
				return err
			}
			defer s.Close()
			prog := &checker.Progress{}
			opts.Progress = prog
			var st *ui.Status
			if opts.ReadData && !g.quiet && !g.json {
				st = ui.StartStatus(os.Stderr, 250*time.Millisecond, func() string {
					done, total := prog.PacksDone.Load(), prog.PacksTotal.Load()
					frac := 0.0
					if total > 0 {
						frac = float64(done) / float64(total)
					}
					return fmt.Sprintf("%s %3.0f%% %d/%d packs, %s read", ui.Bar(frac, 20), frac*100, done, total, ui.Bytes(prog.BytesDone.Load()))
				})
			}
			rep, err := checker.Check(ctx, s.r, opts)
			if st != nil {
				st.Stop()
			}
			if err != nil {
				return err
			}
			if g.json {
				out := map[string]any{"ok": rep.OK(), "read_data": opts.ReadData, "report": rep}
				if err := printJSON(out); err != nil {
					return err
				}
			} else {
				for _, p := range rep.Problems {
					fmt.Printf("DAMAGED %s %s: %s\n", p.Kind, shortName(p.Name), p.Detail)
				}
				for _, f := range rep.DamagedFiles {
					fmt.Printf("cannot restore from snapshot %s: %s (%s)\n", shortName(f.Snapshot), f.Path, f.Reason)
				}
				if !g.quiet {
					what := "structure"
					if opts.ReadData {
						what = fmt.Sprintf("structure and all data (%s read)", ui.Bytes(rep.BytesRead))
					}
					fmt.Printf("Checked %s: %d snapshots, %d packs, %d chunks\n", what, rep.Snapshots, rep.Packs, rep.Blobs)
					if rep.UnusedPacks > 0 {
						fmt.Printf("%d pack(s) are not used by any index (left by an interrupted backup; the next backup reuses them, prune removes them)\n", rep.UnusedPacks)
					}
					if rep.CollectedPacks > 0 {
						fmt.Printf("%d pack(s) listed by index files were removed by the server's retention (normal: no remaining snapshot needs them)\n", rep.CollectedPacks)
					}
				}
			}
			if !rep.OK() {
				return fmt.Errorf("the repository is damaged: %d problem(s), %d snapshot(s) and %d file(s) affected; the other files restore normally",
					len(rep.Problems), len(rep.DamagedSnapshots), len(rep.DamagedFiles))
			}
			say("No problem found.")
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.ReadData, "read-data", false, "read and verify every byte of every pack")
	return cmd
}

func shortName(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}
