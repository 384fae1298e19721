package main

import (
	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/demo"
)

func newDemo() *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A one-minute tour: back up a sample folder, change it, restore it",
		Long: `Run a short demonstration in a temporary folder: create a repository, back up
a small town hall's sample folder, change two files and back up again (only
the changes are read), verify every byte, restore, and compare. Nothing
outside the temporary folder is touched; it is removed unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Out = cmd.OutOrStdout()
			_, err := demo.Run(cmd.Context(), o)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "work in this folder instead of a new temporary one")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the folder to look around afterwards")
	return cmd
}
