package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

type snapshotJSON struct {
	ID      string            `json:"id"`
	ShortID string            `json:"short_id"`
	Time    time.Time         `json:"time"`
	Host    string            `json:"host"`
	User    string            `json:"username,omitempty"`
	Paths   []string          `json:"paths"`
	Tags    []string          `json:"tags,omitempty"`
	Tree    string            `json:"tree"`
	Parent  string            `json:"parent,omitempty"`
	Packs   int               `json:"packs"`
	Summary *snapshot.Summary `json:"summary,omitempty"`
	// Verdict is Sentinel's flag: clean, suspect, infected, or none for a
	// snapshot made without an assessment.
	Verdict string `json:"verdict"`
	// Affected counts the files the report lists as hit.
	Affected int `json:"affected,omitempty"`
}

func toJSON(s *snapshot.Snapshot) snapshotJSON {
	j := snapshotJSON{ID: s.ID.String(), ShortID: s.ID.Short(), Time: s.Time, Host: s.Host, User: s.Username, Paths: s.Paths, Tags: s.Tags,
		Tree: s.Tree.String(), Packs: len(s.Packs), Summary: s.Summary, Verdict: s.Flag.String()}
	if rep := archiver.ReportOf(s); rep != nil {
		j.Affected = len(rep.Affected)
	}
	if s.Parent != nil {
		j.Parent = s.Parent.String()
	}
	return j
}

func newSnapshots() *cobra.Command {
	var host, tag string
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots, oldest first",
		Long: `List the snapshots in the repository, oldest first, with their ID, time,
host, tags, paths and size. Use an ID (or its first characters, or "latest")
with ls, diff and restore.

The Verdict column is Sentinel's judgement of each snapshot: clean, SUSPECT or
INFECTED (ransomware), or "-" for a snapshot made before Sentinel. Do not
restore a suspect or infected snapshot whole: use restore --last-clean.`,
		Example: `  rempart snapshots
  rempart snapshots --host mairie-fs1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "snapshots", false)
			if err != nil {
				return err
			}
			defer s.Close()
			all, problems, err := s.r.Snapshots(ctx)
			if err != nil {
				return err
			}
			var list []*snapshot.Snapshot
			for _, sn := range all {
				if (host == "" || sn.Host == host) && (tag == "" || sn.HasTag(tag)) {
					list = append(list, sn)
				}
			}
			for _, p := range problems {
				fmt.Fprintf(os.Stderr, "warning: snapshot file %s cannot be read: %v\n", p.Name, p.Err)
			}
			if g.json {
				out := make([]snapshotJSON, 0, len(list))
				for _, sn := range list {
					out = append(out, toJSON(sn))
				}
				return printJSON(out)
			}
			if len(list) == 0 {
				say("No snapshot yet. Make one with: rempart backup PATH")
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tSize\tVerdict\tPaths")
			for _, sn := range list {
				size := ""
				if sn.Summary != nil {
					size = ui.Bytes(sn.Summary.BytesTotal)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sn.ID.Short(), sn.Time.Local().Format(time.DateTime), sn.Host,
					strings.Join(sn.Tags, ","), size, verdictOf(sn), strings.Join(sn.Paths, " "))
			}
			_ = tw.Flush()
			say("%d snapshot(s)", len(list))
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "only snapshots of this host")
	cmd.Flags().StringVar(&tag, "tag", "", "only snapshots with this tag")
	return cmd
}
