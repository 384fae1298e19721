package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/demo"
	"github.com/rempart/rempart/internal/server"
	"github.com/rempart/rempart/web"
)

func newDemo() *cobra.Command {
	var o demo.Options
	var withServer bool
	var listen, corpus string
	cmd := &cobra.Command{
		Use:   "demo [--server]",
		Short: "A one-minute tour: back up a sample folder, change it, restore it (--server: the whole product in the browser)",
		Long: `Run a short demonstration in a temporary folder: create a repository, back up
a small town hall's sample folder, change two files and back up again (only
the changes are read), verify every byte, restore, and compare. Nothing
outside the temporary folder is touched; it is removed unless --keep.

With --server: start a Rempart server on embedded defaults (SQLite and local
storage, HTTPS with its own certificate authority) in a fresh folder, and
play two towns on it, "Mairie de Valbonne" and "Mairie de Saint-Aubin": an
operator account, a town admin per town, a machine enrolled per town whose
sample folders are backed up through the server, a continuity plan per town
(the example plan, pointed at those folders), restore drills that pass in
Valbonne, and a ransomware attack in Saint-Aubin that Sentinel detects in
the next backup (a real alert). It then prints the console's URL, the CA
fingerprint and the demo accounts with their generated passwords, and serves
until Ctrl-C. It listens on this machine only (--listen).`,
		Example: `  rempart demo
  rempart demo --server                 # then open https://127.0.0.1:8443/console/
  rempart demo --server --listen 127.0.0.1:9443 --dir /tmp/rempart-demo --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !withServer {
				if cmd.Flags().Changed("listen") || cmd.Flags().Changed("corpus") {
					return usagef("--listen and --corpus go with --server")
				}
				o.Out = cmd.OutOrStdout()
				_, err := demo.Run(cmd.Context(), o)
				return err
			}
			if os.Getenv("REMPART_LOG") == "" { // the story, not the server's log lines
				slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			}
			if !cmd.Flags().Changed("corpus") {
				corpus = defaultCorpus()
			}
			return demo.RunServer(cmd.Context(), demo.ServerOptions{
				Dir: o.Dir, Keep: o.Keep, Listen: listen, WebApp: web.Assets(), Corpus: corpus, Out: cmd.OutOrStdout(),
			})
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "work in this folder instead of a new temporary one (with --server: a new or empty folder, kept)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the folder to look around afterwards")
	cmd.Flags().BoolVar(&withServer, "server", false, "run the server demo: two towns in the web console, until Ctrl-C")
	cmd.Flags().StringVar(&listen, "listen", server.DefaultListen, "with --server: HTTPS address, HOST:PORT (port 0 picks a free one)")
	cmd.Flags().StringVar(&corpus, "corpus", "", "with --server: a folder of real documents with a MANIFEST.tsv to add to the shared folders (default ../shared/corpus when it exists)")
	return cmd
}

// defaultCorpus is ../shared/corpus beside the working folder (the
// repository's checkout), when it holds a manifest.
func defaultCorpus() string {
	p, err := filepath.Abs(filepath.Join("..", "shared", "corpus"))
	if err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join(p, "MANIFEST.tsv")); err != nil {
		return ""
	}
	return p
}
