package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/repo"
)

func newInit() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create a new repository and print its recovery key",
		Long: `Create a new, empty repository in the folder given by --repo (or REMPART_REPO).
The folder must not exist or be empty.

Everything stored is encrypted with a master key. That key is unlocked by your
passphrase, and also by a recovery key that is printed once, now. Write the
recovery key on paper and keep it in a safe: if the machine that knew the
passphrase is lost (or encrypted by ransomware), the recovery key still opens
the repository. Rempart cannot recover either for you.`,
		Example: `  REMPART_PASSWORD='long passphrase' rempart init --repo /srv/backup/repo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := repoPath()
			if err != nil {
				return err
			}
			pw, err := password("New passphrase for " + path + ": ")
			if err != nil {
				return err
			}
			if g.passwordFile == "" && os.Getenv("REMPART_PASSWORD") == "" {
				again, err := ui.Prompt("Repeat the passphrase: ")
				if err != nil {
					return err
				}
				if again != pw {
					return usagef("the two passphrases differ; nothing was created")
				}
			}
			if len(pw) < 8 {
				return usagef("passphrase too short: use at least 8 characters (a few words is best)")
			}
			be, err := createBackend(path)
			if err != nil {
				return err
			}
			r, rk, err := repo.Init(cmd.Context(), be, pw)
			if err != nil {
				return err
			}
			cfg := r.Config()
			if g.json {
				return printJSON(map[string]any{"repository": path, "id": cfg.ID, "version": cfg.Version, "recovery_key": rk})
			}
			fmt.Printf("Created repository %s at %s\n\n", cfg.ID[:8], path)
			fmt.Printf("RECOVERY KEY (shown only now; write it on paper and keep it safe):\n\n    %s\n\n", rk)
			fmt.Println("It opens this repository like a passphrase: REMPART_PASSWORD='<recovery key>' rempart snapshots")
			return nil
		},
	}
}
