package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/prune"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

func newForget() *cobra.Command {
	var p prune.Policy
	var within string
	var dryRun, doPrune bool
	cmd := &cobra.Command{
		Use:   "forget",
		Short: "Remove snapshots that a retention policy no longer keeps",
		Long: `Remove the snapshots that no rule of the policy keeps, per host and set of
paths. A snapshot is kept when any rule keeps it:
  --keep-within 14d     everything younger than 14 days (also h, w, m=30 days, y)
  --keep-last N         the N newest
  --keep-daily N        the newest of each of the last N days that have one
  --keep-weekly N, --keep-monthly N, --keep-yearly N, --keep-hourly N: likewise
  --keep-tag TAG        every snapshot with that tag

Retention is based on time on purpose: prefer --keep-within and the calendar
rules over --keep-last, which a flood of junk snapshots could push out.
forget only removes snapshot files; run prune (or pass --prune) to free the
space. Use --dry-run first to see what would go.`,
		Example: `  rempart forget --keep-within 14d --keep-daily 90 --keep-weekly 52 --dry-run
  rempart forget --keep-within 14d --keep-daily 90 --keep-weekly 52 --prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if within != "" {
				d, err := prune.ParseDuration(within)
				if err != nil {
					return usagef("--keep-within: %v", err)
				}
				p.Within = d
			}
			if p.Empty() {
				return usagef("no rule given: say what to keep, e.g. --keep-within 14d --keep-daily 90 (see --help)")
			}
			ctx := cmd.Context()
			s, err := openRepo(ctx, exclusiveLock, "forget", false)
			if err != nil {
				return err
			}
			defer s.Close()
			all, problems, err := s.r.Snapshots(ctx)
			if err != nil {
				return err
			}
			if len(problems) > 0 {
				return fmt.Errorf("snapshot %s cannot be read (%v): run `rempart check` before forgetting anything", problems[0].Name, problems[0].Err)
			}
			groups := map[string][]*snapshot.Snapshot{}
			var keys []string
			for _, sn := range all {
				k := prune.GroupKey(sn)
				if groups[k] == nil {
					keys = append(keys, k)
				}
				groups[k] = append(groups[k], sn)
			}
			sort.Strings(keys)
			now := time.Now()
			type dj struct {
				ID      string   `json:"id"`
				Time    string   `json:"time"`
				Host    string   `json:"host"`
				Paths   []string `json:"paths"`
				Keep    bool     `json:"keep"`
				Reasons []string `json:"reasons,omitempty"`
			}
			var out []dj
			removed := 0
			for _, k := range keys {
				decisions := prune.Apply(p, groups[k], now)
				if !g.json && !g.quiet {
					first := groups[k][0]
					fmt.Printf("Host %s, paths %s:\n", first.Host, strings.Join(first.Paths, " "))
				}
				for _, d := range decisions {
					sn := d.Snapshot
					out = append(out, dj{sn.ID.String(), sn.Time.Format(time.RFC3339), sn.Host, sn.Paths, d.Keep, d.Reasons})
					if !g.json && !g.quiet {
						verdict := "remove"
						if d.Keep {
							verdict = "keep   (" + strings.Join(d.Reasons, ", ") + ")"
						}
						fmt.Printf("  %s  %s  %s\n", sn.ID.Short(), sn.Time.Local().Format(time.DateTime), verdict)
					}
					if !d.Keep {
						removed++
						if !dryRun {
							if err := s.r.RemoveSnapshot(ctx, sn.ID); err != nil {
								return err
							}
						}
					}
				}
			}
			var pst *prune.Stats
			if doPrune && removed > 0 {
				if pst, err = prune.Prune(ctx, s.r, dryRun); err != nil {
					return err
				}
			}
			if g.json {
				if out == nil {
					out = []dj{}
				}
				return printJSON(map[string]any{"dry_run": dryRun, "snapshots": out, "removed": removed, "prune": pst})
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			say("%s %d of %d snapshot(s)", verb, removed, len(all))
			if pst != nil {
				say("Prune: %d pack(s) (%s) freed, %d kept", pst.PacksRemoved, ui.Bytes(pst.BytesRemoved), pst.PacksKept)
			} else if removed > 0 && !dryRun {
				say("Run `rempart prune` to free the space.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&within, "keep-within", "", "keep every snapshot younger than this (e.g. 14d, 12w, 6m, 1y, 36h)")
	f.IntVar(&p.Last, "keep-last", 0, "keep the N newest snapshots")
	f.IntVar(&p.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours")
	f.IntVar(&p.Daily, "keep-daily", 0, "keep the newest snapshot of each of the last N days")
	f.IntVar(&p.Weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last N weeks")
	f.IntVar(&p.Monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last N months")
	f.IntVar(&p.Yearly, "keep-yearly", 0, "keep the newest snapshot of each of the last N years")
	f.StringArrayVar(&p.Tags, "keep-tag", nil, "keep every snapshot with this tag (repeatable)")
	f.BoolVarP(&dryRun, "dry-run", "n", false, "only show what would be removed")
	f.BoolVar(&doPrune, "prune", false, "run prune afterwards to free the space")
	return cmd
}

func newPrune() *cobra.Command {
	var dryRun bool
	return withDryRun(&cobra.Command{
		Use:   "prune",
		Short: "Free the space of data that no snapshot uses any more",
		Long: `Remove the packs that no remaining snapshot needs (after forget, or left by an
interrupted backup). Prune refuses to remove anything if a snapshot or index
cannot be read, and is safe to interrupt: the index is rewritten before any
pack is removed. It needs the repository to itself (exclusive lock).`,
		Example: `  rempart prune --dry-run
  rempart prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, exclusiveLock, "prune", false)
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := prune.Prune(ctx, s.r, dryRun)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(st)
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			say("%s %d of %d pack(s), %s; %d pack(s) (%s) kept for %d snapshot(s)", verb, st.PacksRemoved, st.PacksTotal, ui.Bytes(st.BytesRemoved), st.PacksKept, ui.Bytes(st.BytesKept), st.Snapshots)
			return nil
		},
	}, &dryRun)
}

func withDryRun(c *cobra.Command, v *bool) *cobra.Command {
	c.Flags().BoolVarP(v, "dry-run", "n", false, "only show what would be removed")
	return c
}
