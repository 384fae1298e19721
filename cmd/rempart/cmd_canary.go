package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/canary"
)

func newCanary() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "canary",
		Short: "Plant and list decoy files that reveal ransomware",
		Long: `Canary files are decoys: documents with tempting names (a budget, a payroll,
a password list) that nobody is meant to open. Ransomware encrypts or deletes
whatever it finds; when a backup (or "rempart sentinel scan") sees that a canary
changed or vanished, it reports the snapshot as suspect or infected.

Tell the staff: the decoys must not be opened, moved, renamed or deleted (see
the README, "Canary files"). They need no other care: back them up as usual.`,
	}
	cmd.AddCommand(newCanaryPlant(), newCanaryList())
	return cmd
}

func newCanaryPlant() *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "plant PATH...",
		Short: "Place decoy files in folders",
		Long: fmt.Sprintf(`Place decoy files in each folder given: realistic office documents (xlsx,
docx, odt, that open normally) and text files, with names a town's staff
would use, dated a few weeks back. Each carries a marker that Rempart
recognises. An existing file is never overwritten: a taken name is skipped
for the next decoy. Up to %d decoys per folder.

Plant them where ransomware will go: the shared folders that are backed up,
at the top and in a few busy sub-folders. Then run a backup so that Rempart
knows them, and tell the staff not to touch them.`, canary.MaxPerFolder),
		Example: `  rempart canary plant /srv/shares /srv/shares/finances /srv/shares/rh
  rempart canary plant /srv/shares --count 5`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > canary.MaxPerFolder {
				return usagef("--count must be between 1 and %d", canary.MaxPerFolder)
			}
			var all []canary.Planted
			var firstErr error
			for _, dir := range args {
				p, err := canary.Plant(dir, count, time.Now())
				all = append(all, p...)
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}
			if g.json {
				if all == nil {
					all = []canary.Planted{}
				}
				if err := printJSON(map[string]any{"planted": all}); err != nil {
					return err
				}
			} else if !g.quiet {
				for _, p := range all {
					fmt.Printf("Planted %s\n", p.Path)
				}
				if len(all) > 0 {
					fmt.Printf("%d decoy file(s) planted. Now:\n", len(all))
					fmt.Println("  - run a backup, so that Rempart knows them;")
					fmt.Println("  - tell the staff these files are decoys watched by Rempart: never open, move,")
					fmt.Println("    rename or delete them (README, \"Canary files\"); any change raises a ransomware alert;")
					fmt.Println("  - `rempart canary list PATH` finds them again.")
				}
			}
			return firstErr
		},
	}
	cmd.Flags().IntVar(&count, "count", 4, "decoys per folder")
	return cmd
}

func newCanaryList() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list PATH",
		Short: "Find the decoy files under a folder",
		Long: `Find the decoy files planted by "rempart canary plant" under a folder, by the
marker they carry (only the last few KiB of each file are read).`,
		Example: `  rempart canary list /srv/shares`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			found, err := canary.List(args[0])
			if err != nil {
				return err
			}
			if g.json {
				if found == nil {
					found = []canary.Found{}
				}
				return printJSON(found)
			}
			for _, f := range found {
				fmt.Printf("%s  (planted token %s…, modified %s)\n", f.Path, f.Token[:8], f.Time.Local().Format(time.DateTime))
			}
			say("%d decoy file(s) under %s", len(found), args[0])
			return nil
		},
	}
	return cmd
}
