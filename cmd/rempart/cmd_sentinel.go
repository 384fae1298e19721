package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// maxAffectedShown bounds the list printed for people; --json has them all.
const maxAffectedShown = 20

// verdictCode is the exit status for a verdict: a script (or a monitoring
// system) must tell "ransomware" apart from an ordinary failure.
func verdictCode(rep *sentinel.Report) int {
	if rep == nil {
		return exitOK
	}
	switch rep.Verdict {
	case sentinel.Clean:
		return exitOK
	case sentinel.Infected:
		return exitInfected
	}
	return exitSuspect
}

// verdictError is what a command returns after printing a bad verdict, so
// that the exit status says it and stderr repeats the one thing to do.
func verdictError(rep *sentinel.Report, what string, scan bool) error {
	code := verdictCode(rep)
	if code == exitOK {
		return nil
	}
	advice := "do not restore it: use `rempart restore --last-clean --target DIR`"
	if scan {
		advice = "isolate the machine; clean files: `rempart restore --last-clean --target DIR`"
	}
	return withCode(code, fmt.Errorf("%s: Sentinel judged it %s (ransomware); %s", what, strings.ToUpper(string(rep.Verdict)), advice))
}

// snapshotTimes maps snapshot IDs to their times, for naming the last
// clean snapshot; read only when something looks wrong.
func snapshotTimes(ctx context.Context, r *repo.Repository) map[string]time.Time {
	all, _, err := r.Snapshots(ctx)
	if err != nil {
		return nil
	}
	m := make(map[string]time.Time, len(all))
	for _, s := range all {
		m[s.ID.String()] = s.Time
	}
	return m
}

// lastClean is the newest snapshot in which every affected file was still
// clean: the oldest of the affected files' last clean snapshots. "" when
// none is known.
func lastClean(rep *sentinel.Report, times map[string]time.Time) string {
	best := ""
	for _, a := range rep.Affected {
		if a.LastClean == "" {
			continue
		}
		if best == "" || times[a.LastClean].Before(times[best]) {
			best = a.LastClean
		}
	}
	return best
}

func short8(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// printVerdict shows a report to people. A clean verdict is one quiet
// line; a bad one is a block that cannot be missed in a log or a cron
// mail: why, which files, where they are still clean, and what to do.
// subject names what was judged ("snapshot 1a2b3c4d", "folder /srv").
func printVerdict(w io.Writer, rep *sentinel.Report, subject string, times map[string]time.Time, scan bool) {
	if rep == nil {
		return
	}
	if rep.Verdict == sentinel.Clean {
		fmt.Fprintf(w, "Sentinel: %s looks clean (%d new or changed and %d deleted files checked)\n", subject, rep.Changed, rep.Deleted)
		return
	}
	bar := strings.Repeat("=", 72)
	title := "RANSOMWARE SUSPECTED"
	if rep.Verdict == sentinel.Infected {
		title = "RANSOMWARE DETECTED"
	}
	fmt.Fprintln(w, bar)
	fmt.Fprintf(w, "!! %s: %s looks %s (score %.2f)\n", title, subject, strings.ToUpper(string(rep.Verdict)), rep.Score)
	fmt.Fprintln(w, bar)
	if len(rep.Indicators) > 0 {
		fmt.Fprintln(w, "Why:")
		for _, in := range rep.Indicators {
			line := fmt.Sprintf("  - %s: %d file(s)", indicatorWords(in.Name), in.Count)
			if in.Detail != "" {
				line += " — " + in.Detail
			}
			fmt.Fprintln(w, line)
		}
	}
	if n := len(rep.Affected); n > 0 {
		shown := rep.Affected
		if n > maxAffectedShown {
			fmt.Fprintf(w, "Affected files (%d; the first %d):\n", n, maxAffectedShown)
			shown = shown[:maxAffectedShown]
		} else {
			fmt.Fprintf(w, "Affected files (%d):\n", n)
		}
		for _, a := range shown {
			where := "no clean version"
			if a.LastClean != "" {
				where = "clean in " + short8(a.LastClean)
				if a.LastCleanPath != "" && a.LastCleanPath != a.Path {
					where += " as " + a.LastCleanPath
				}
			}
			fmt.Fprintf(w, "  %s  [%s]  %s\n", a.Path, strings.Join(a.Reasons, ", "), where)
		}
		if n > maxAffectedShown {
			fmt.Fprintf(w, "  ... and %d more (--json lists them all)\n", n-maxAffectedShown)
		}
	}
	if lc := lastClean(rep, times); lc != "" {
		when := ""
		if t, ok := times[lc]; ok {
			when = " of " + t.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "Last clean snapshot: %s%s\n", short8(lc), when)
	} else {
		fmt.Fprintln(w, "Last clean snapshot: none known for the affected files")
	}
	fmt.Fprintln(w, "What to do now:")
	if scan {
		fmt.Fprintln(w, "  1. Do not back this folder up over the clean snapshots until it is checked; isolate the machine")
		fmt.Fprintln(w, "     (unplug its network) and call your IT security contact.")
	} else {
		fmt.Fprintln(w, "  1. Do not restore this snapshot: its affected files hold what the attacker wrote.")
		fmt.Fprintln(w, "     Isolate the machine (unplug its network) and call your IT security contact.")
	}
	fmt.Fprintln(w, "  2. Get clean files back into a new folder, check them, then put them in place:")
	fmt.Fprintln(w, "       rempart restore --last-clean --target DIR")
	fmt.Fprintln(w, "     (affected files come from their last clean version, the rest from the latest snapshot)")
	if isRemote(g.repo) {
		fmt.Fprintln(w, "  3. The server has frozen the clean snapshots: no retention expires them while the alert is open.")
	} else {
		fmt.Fprintln(w, "  3. Do not run `rempart forget` or `rempart prune` until the incident is closed: keep the clean snapshots.")
	}
	fmt.Fprintln(w, bar)
}

// indicatorWords says what an indicator means, in words a town's IT
// manager reads at 3 a.m.
func indicatorWords(name string) string {
	if w, ok := map[string]string{
		"encrypted":        "encrypted content",
		"magic_lost":       "file type no longer recognisable",
		"container_broken": "documents no longer readable (broken structure)",
		"rename_storm":     "mass renaming to a new extension",
		"ransom_note":      "ransom notes",
		"mass_deletion":    "mass deletion",
		"canary":           "decoy (canary) files touched",
	}[name]; ok {
		return w + " (" + name + ")"
	}
	return name
}

func newSentinel() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sentinel",
		Short: "Ransomware detection: check a live folder",
		Long: `Sentinel looks for ransomware in what is backed up. Every backup judges the
new and changed files against their previous version (encrypted content, file
types no longer recognisable, broken documents, mass renaming, ransom notes,
mass deletion, touched canary files) and stores a verdict with the snapshot:
clean, suspect (exit status 4) or infected (exit status 5).

"sentinel scan" runs the same check on a live folder without making a backup.`,
	}
	cmd.AddCommand(newSentinelScan())
	return cmd
}

func newSentinelScan() *cobra.Command {
	var host string
	var full bool
	cmd := &cobra.Command{
		Use:   "scan PATH",
		Short: "Check a live folder for ransomware against its latest snapshot, without backing up",
		Long: `Check a live folder against the latest snapshot of this machine that holds it,
without making a snapshot: for a quick look during an incident, before a
backup would store encrypted files.

Files whose size and modification time are those of the snapshot are taken as
unchanged, as a backup would (--full reads every file). The verdict is printed
like backup's; the exit status is 0 (clean), 4 (suspect) or 5 (infected).`,
		Example: `  rempart sentinel scan /srv/shares
  rempart sentinel scan /srv/shares/finances --full --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "sentinel scan", true)
			if err != nil {
				return err
			}
			defer s.Close()
			if host == "" {
				host, _ = os.Hostname()
			}
			sn, err := archiver.FindCovering(ctx, s.r, host, args[0])
			if err != nil {
				return err
			}
			if sn == nil {
				return fmt.Errorf("no snapshot of %s from host %s to compare with: back it up first (`rempart backup %s`), or give --host", args[0], host, args[0])
			}
			opts := archiver.ScanOptions{Path: args[0], Snapshot: sn, Full: full}
			if p := absIfLocal(); p != "" {
				opts.SkipPaths = append(opts.SkipPaths, p)
			}
			prog := &archiver.Progress{}
			opts.Progress = prog
			start := time.Now()
			var st *ui.Status
			if !g.quiet && !g.json {
				st = ui.StartStatus(os.Stderr, 250*time.Millisecond, func() string { return backupStatus(prog, start) })
			}
			res, err := archiver.Scan(ctx, s.r, opts)
			if st != nil {
				st.Stop()
			}
			if err != nil {
				return err
			}
			rep := &res.Report
			if g.json {
				if err := printJSON(map[string]any{"path": args[0], "snapshot_id": sn.ID.String(), "verdict": rep.Verdict, "sentinel": rep,
					"files_read": res.FilesRead, "files_unchanged": res.FilesUnchanged, "bytes_read": res.BytesRead, "errors": res.Errors,
					"duration_seconds": time.Since(start).Seconds()}); err != nil {
					return err
				}
			} else {
				for _, e := range res.Errors {
					fmt.Fprintf(os.Stderr, "could not read %s: %s\n", e.Path, e.Err)
				}
				if !g.quiet {
					fmt.Printf("Compared %s with snapshot %s of %s\n", args[0], sn.ID.Short(), sn.Time.Local().Format(time.DateTime))
					fmt.Printf("Read %d files (%s); %d unchanged since the snapshot; took %s\n", res.FilesRead, ui.Bytes(res.BytesRead), res.FilesUnchanged, ui.Duration(time.Since(start)))
					var times map[string]time.Time
					if rep.Verdict != sentinel.Clean {
						times = snapshotTimes(ctx, s.r)
					}
					printVerdict(os.Stdout, rep, "folder "+args[0], times, true)
					fmt.Println("No snapshot was made.")
				}
			}
			return verdictError(rep, "folder "+args[0], true)
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "compare with the snapshots of this host (default: this machine's name)")
	cmd.Flags().BoolVar(&full, "full", false, "read every file, not only those whose size or modification time changed")
	return cmd
}

// verdictOf is the flag a listing shows for a snapshot.
func verdictOf(sn *snapshot.Snapshot) string {
	if sn.Flag == snapshot.FlagNone {
		return "-"
	}
	if sn.Flag == snapshot.FlagClean {
		return "clean"
	}
	return strings.ToUpper(sn.Flag.String())
}
