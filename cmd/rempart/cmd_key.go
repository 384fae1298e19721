package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
)

func newKey() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the passphrases that open the repository",
		Long: `A repository can be opened by several passphrases (one per administrator,
say) and by its recovery key. Each is a key file that wraps the same master
key, so adding or removing one never re-encrypts any data.`,
	}
	var newPassFile string
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a passphrase",
		Long: `Add a new passphrase. Open the repository with an existing passphrase (or the
recovery key) as usual; the new one comes from REMPART_NEW_PASSWORD,
--new-password-file, or a prompt.`,
		Example: `  REMPART_NEW_PASSWORD='another long passphrase' rempart key add`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "key add", false)
			if err != nil {
				return err
			}
			defer s.Close()
			np := os.Getenv("REMPART_NEW_PASSWORD")
			if newPassFile != "" {
				if np, err = ui.ReadPasswordFile(newPassFile); err != nil {
					return err
				}
			}
			if np == "" {
				if np, err = ui.Prompt("New passphrase: "); err != nil {
					return err
				}
				again, err := ui.Prompt("Repeat the new passphrase: ")
				if err != nil {
					return err
				}
				if again != np {
					return usagef("the two passphrases differ; nothing was added")
				}
			}
			if len(np) < 8 {
				return usagef("passphrase too short: use at least 8 characters")
			}
			id, err := s.r.AddPassphrase(ctx, np)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]string{"id": id})
			}
			say("Added key %s", id[:8])
			return nil
		},
	}
	add.Flags().StringVar(&newPassFile, "new-password-file", "", "read the new passphrase from this file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the keys (the one in use is marked with *)",
		Long: `List every key file of the repository: the passphrases and the recovery
key, with when, where and by whom each was made. The key you opened the
repository with is marked with *.`,
		Example: `  rempart key list
  rempart key list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "key list", false)
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.r.ListKeys(ctx)
			if err != nil {
				return err
			}
			if g.json {
				type kj struct {
					ID      string    `json:"id"`
					Kind    string    `json:"kind"`
					Current bool      `json:"current"`
					Created time.Time `json:"created"`
					Host    string    `json:"host,omitempty"`
					User    string    `json:"username,omitempty"`
				}
				out := []kj{}
				for _, k := range keys {
					out = append(out, kj{k.ID, k.Kind, k.ID == s.r.KeyID(), k.Created, k.Host, k.Username})
				}
				return printJSON(out)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, " \tID\tKind\tCreated\tHost\tUser")
			for _, k := range keys {
				mark := " "
				if k.ID == s.r.KeyID() {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mark, k.ID[:8], k.Kind, k.Created.Local().Format(time.DateTime), k.Host, k.Username)
			}
			return tw.Flush()
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a passphrase (not the one in use, not the last one)",
		Long: `Remove a key by its ID (or its first characters, at least 6), as shown by
` + "`rempart key list`" + `. The key you opened the repository with, and the last
passphrase, cannot be removed. Removing the recovery key is allowed but leaves
no paper way in: think twice.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "key remove", false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.r.RemoveKey(ctx, args[0]); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]string{"removed": args[0]})
			}
			say("Removed key %s", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long:  "Print Rempart's version and the repository format it writes.",
		Example: `  rempart version
  rempart version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.json {
				return printJSON(map[string]any{"version": version, "repository_format": 1})
			}
			fmt.Printf("rempart %s (repository format 1)\n", version)
			return nil
		},
	}
}

func newUnlock() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Remove stale locks left by killed processes",
		Long: `Remove locks whose process is gone (on this machine) or that were not
refreshed for 30 minutes. Locks of running processes are kept.`,
		Example: `  rempart unlock`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "unlock", false)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.r.RemoveStaleLocks(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]int{"removed": n})
			}
			say("Removed %d stale lock(s)", n)
			return nil
		},
	}
}
