// Command rempart keeps a town's public services running through a
// ransomware attack. This file wires the command line; the work is done in
// internal/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/repo"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in `rempart --help` and the README.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitIncomplete = 3  // backup made, but some files could not be read
	exitSuspect    = 4  // Sentinel: the files look like ransomware may be at work
	exitInfected   = 5  // Sentinel: the files look encrypted by ransomware
	exitNoRepo     = 10 // repository does not exist or is not one
	exitLocked     = 11
	exitWrongPass  = 12
)

// exitError carries an exit code through cobra.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &codeError{code, err} }

type globals struct {
	repo         string
	passwordFile string
	json         bool
	quiet        bool
}

var g globals

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "rempart",
		Short: "Rempart keeps public services running through a ransomware attack",
		Long: `Rempart makes encrypted, deduplicated, compressed backups that a compromised
machine cannot delete, and restores them fast.

Start here:
  export REMPART_REPO=/srv/backup/repo     # where backups are kept
  rempart init                             # create it; write the recovery key on paper
  rempart backup /home /srv/data           # make a snapshot (run it every day)
  rempart snapshots                        # list snapshots
  rempart restore latest --target /tmp/r   # get files back
  rempart check --read-data                # prove every byte can be read back

The passphrase comes from REMPART_PASSWORD, --password-file FILE, or a prompt.
Every command accepts --json for scripts.

Exit codes: 0 success, 1 error, 2 bad usage, 3 backup made but some files
could not be read, 4 Sentinel suspects ransomware (backup or scan), 5 Sentinel
sees ransomware encryption, 10 no repository there, 11 repository locked,
12 wrong passphrase.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.repo, "repo", "r", os.Getenv("REMPART_REPO"), "repository folder, or https://HOST:PORT/TENANT on a server (default $REMPART_REPO)")
	pf.StringVar(&g.passwordFile, "password-file", os.Getenv("REMPART_PASSWORD_FILE"), "read the passphrase from the first line of this file (default $REMPART_PASSWORD_FILE)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON on stdout")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and essential results")
	root.AddCommand(newInit(), newBackup(), newSnapshots(), newLs(), newDiff(), newRestore(), newCheck(),
		newForget(), newPrune(), newKey(), newDemo(), newVersion(), newUnlock(),
		newServer(), newLogin(), newTenant(), newAgent(), newAudit(), newAccount(), newToken(),
		newSentinel(), newCanary(), newAlert(), newPlan(), newRunbook(), newDrill(), newEvidence())
	// Wrong flags and wrong argument counts are usage errors (exit 2).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if orig := c.Args; orig != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := orig(cmd, args); err != nil {
					return usageError{fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath())}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// REMPART_CPUPROFILE=FILE writes a CPU profile, for developers.
	if p := os.Getenv("REMPART_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	if p := os.Getenv("REMPART_TRACE"); p != "" {
		if f, err := os.Create(p); err == nil {
			_ = trace.Start(f)
			defer f.Close()
		}
	}
	// REMPART_LOG=debug shows the engine's progress notes on stderr.
	if lv := os.Getenv("REMPART_LOG"); lv != "" {
		var level slog.Level
		if level.UnmarshalText([]byte(lv)) == nil {
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		}
	}
	// The live heap is small (buffers and the index), so a tighter GC goal
	// costs little CPU and keeps memory low beside the services it protects.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(40)
	}
	root := newRoot()
	err := root.ExecuteContext(ctx)
	pprof.StopCPUProfile()
	trace.Stop()
	stop()
	os.Exit(report(err))
}

// report prints an error in words (or JSON) and returns the exit code.
func report(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	var ce *codeError
	switch {
	case errors.As(err, &ce):
		code = ce.code
	case errors.Is(err, repo.ErrWrongPassword):
		code = exitWrongPass
	case errors.Is(err, repo.ErrNotRepository), errors.Is(err, backend.ErrNotFound) && isOpenErr(err):
		code = exitNoRepo
	case errors.Is(err, repo.ErrLocked):
		code = exitLocked
	case isUsage(err), strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"):
		code = exitUsage
	}
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted: nothing was committed, earlier snapshots are intact; run the command again to continue")
	}
	if g.json {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"error": err.Error(), "exit_code": code})
	}
	fmt.Fprintln(os.Stderr, "rempart:", err)
	if errors.Is(err, backend.ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		fmt.Fprintln(os.Stderr, "rempart: the repository's disk is full: free space (or `rempart forget` then `rempart prune`) and run again; earlier snapshots are intact.")
	}
	return code
}

type openError struct{ error }

func (e openError) Unwrap() error { return e.error }

func isOpenErr(err error) bool {
	var oe openError
	return errors.As(err, &oe)
}

type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// printJSON writes v as indented JSON on stdout.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// say prints a line for people unless --json or --quiet.
func say(format string, args ...any) {
	if g.json || g.quiet {
		return
	}
	fmt.Printf(format+"\n", args...)
}

// envOr returns the environment variable, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
