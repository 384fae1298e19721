package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/repo"
)

func newBackup() *cobra.Command {
	var opts archiver.Options
	var compression string
	cmd := &cobra.Command{
		Use:   "backup PATH...",
		Short: "Make a snapshot of files and folders",
		Long: `Make a snapshot of the given files and folders.

Only what changed since the previous snapshot of the same host and paths is
read again (a file is unchanged when its size, modification time, change time
and inode are). New data is cut into chunks, deduplicated against everything
already stored, compressed and encrypted before it is written.

Files that cannot be read (permissions, vanished) are listed at the end; the
snapshot is still made and the command exits with status 3.

Sentinel checks every new or changed file against its previous version as it
is read (encrypted content, broken documents, mass renaming, ransom notes,
mass deletion, touched canary files) and stores a verdict with the snapshot.
A suspect snapshot exits with status 4, an infected one with status 5, after
a block that lists the affected files and their last clean snapshot: then do
not restore that snapshot, use "rempart restore --last-clean --target DIR".`,
		Example: `  rempart backup /home /srv/shares --tag daily
  rempart backup /srv/shares --exclude '*.tmp' --exclude '/srv/shares/cache'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, sharedLock, "backup", true)
			if err != nil {
				return err
			}
			defer s.Close()
			if n, problems, err := s.r.RecoverPacks(ctx); err != nil {
				return err
			} else {
				if n > 0 && !g.quiet && !g.json {
					fmt.Fprintf(os.Stderr, "Found %d pack(s) left by an interrupted backup: they are reused.\n", n)
				}
				for _, p := range problems {
					fmt.Fprintf(os.Stderr, "warning: pack %s is unreadable (%v); run `rempart check`\n", p.Name[:8], p.Err)
				}
			}
			level, err := repo.ParseCompression(compression)
			if err != nil {
				return usageError{err}
			}
			s.r.SetCompression(level)
			opts.Paths = args
			opts.Program = "rempart " + version
			if opts.Host == "" {
				opts.Host = enrolledHost(g.repo) // "" → this machine's name
				// Backups before it used its enrolled name carry its system name.
				if sys, _ := os.Hostname(); opts.Host != "" && sys != "" && sys != opts.Host {
					opts.FormerHosts = []string{sys}
				}
			}
			if p := absIfLocal(); p != "" {
				// Never back up the repository into itself.
				opts.SkipPaths = append(opts.SkipPaths, p)
			}
			prog := &archiver.Progress{}
			opts.Progress = prog
			start := time.Now()
			var st *ui.Status
			if !g.quiet && !g.json {
				st = ui.StartStatus(os.Stderr, 250*time.Millisecond, func() string { return backupStatus(prog, start) })
			}
			res, err := archiver.Backup(ctx, s.r, opts)
			if st != nil {
				st.Stop()
			}
			if err != nil {
				return err
			}
			sn := res.Snapshot
			sum := sn.Summary
			if g.json {
				out := map[string]any{"snapshot_id": sn.ID.String(), "summary": sum, "errors": res.Errors}
				if res.Parent != nil {
					out["parent"] = res.Parent.ID.String()
				}
				if res.Sentinel != nil {
					out["verdict"] = res.Sentinel.Verdict
					out["sentinel"] = res.Sentinel
				}
				if err := printJSON(out); err != nil {
					return err
				}
			} else if !g.quiet {
				if res.Parent != nil {
					fmt.Printf("Compared with snapshot %s of %s\n", res.Parent.ID.Short(), res.Parent.Time.Local().Format(time.DateTime))
				}
				fmt.Printf("Files:   %d new, %d changed, %d unchanged\n", sum.FilesNew, sum.FilesChanged, sum.FilesUnchanged)
				fmt.Printf("Folders: %d new, %d changed, %d unchanged\n", sum.DirsNew, sum.DirsChanged, sum.DirsUnchanged)
				fmt.Printf("Read %s of %s; added %s (%s stored after compression)\n", ui.Bytes(sum.BytesRead), ui.Bytes(sum.BytesTotal), ui.Bytes(sum.BytesAdded), ui.Bytes(sum.BytesAddedPacked))
				fmt.Printf("Took %s\n", ui.Duration(time.Duration(sum.DurationSeconds*float64(time.Second))))
				fmt.Printf("Snapshot %s saved\n", sn.ID.Short())
				var times map[string]time.Time
				if verdictCode(res.Sentinel) != exitOK {
					times = snapshotTimes(ctx, s.r)
				}
				printVerdict(os.Stdout, res.Sentinel, "snapshot "+sn.ID.Short(), times, false)
			} else {
				fmt.Println(sn.ID.String())
			}
			if len(res.Errors) > 0 {
				for _, e := range res.Errors {
					fmt.Fprintf(os.Stderr, "could not read %s: %s\n", e.Path, e.Err)
				}
			}
			// A ransomware verdict outranks unreadable files: it is the
			// status a monitoring script must see.
			if err := verdictError(res.Sentinel, "snapshot "+sn.ID.Short()+" saved", false); err != nil {
				return err
			}
			if len(res.Errors) > 0 {
				return withCode(exitIncomplete, fmt.Errorf("snapshot %s saved, but %d file(s) or folder(s) could not be read (listed above)", sn.ID.Short(), len(res.Errors)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Tags, "tag", nil, "label the snapshot (repeatable), e.g. --tag daily")
	f.StringArrayVarP(&opts.Excludes, "exclude", "e", nil, "skip files and folders matching a pattern (repeatable): a name pattern like '*.tmp', or a path like '/srv/cache'")
	f.StringVar(&opts.Host, "host", "", "host name recorded in the snapshot (default: the name this machine enrolled with on the server, else its system name)")
	f.StringVar(&compression, "compression", envOr("REMPART_COMPRESSION", "auto"), "auto (balanced), fast (less CPU, a few % bigger), max (smaller, more CPU) or off")
	// Only to measure what detection costs (bench/): a real backup keeps it.
	f.BoolVar(&opts.NoSentinel, "no-sentinel", false, "turn ransomware detection off (benchmarks only)")
	_ = f.MarkHidden("no-sentinel")
	return cmd
}

func backupStatus(p *archiver.Progress, start time.Time) string {
	el := time.Since(start)
	done, total := p.BytesDone.Load(), p.BytesTotal.Load()
	files := p.FilesDone.Load()
	line := fmt.Sprintf("%s %d files, %s", ui.Duration(el), files, ui.Bytes(done))
	if p.ScanDone.Load() && total > 0 {
		frac := float64(done) / float64(total)
		line = fmt.Sprintf("%s %3.0f%% %s of %s, %d/%d files", ui.Bar(frac, 20), frac*100, ui.Bytes(done), ui.Bytes(total), files, p.FilesTotal.Load())
		if frac > 0.02 && el > 2*time.Second {
			eta := time.Duration(float64(el)/frac) - el
			line += ", ETA " + ui.Duration(eta)
		}
	}
	if e := p.Errors.Load(); e > 0 {
		line += fmt.Sprintf(", %d errors", e)
	}
	return line
}
