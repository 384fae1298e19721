package main

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/tree"
)

type lsEntry struct {
	Path       string    `json:"path"`
	PathRaw    []byte    `json:"path_raw,omitempty"` // the exact bytes, when the name is not valid UTF-8
	Type       string    `json:"type"`
	Size       uint64    `json:"size"`
	Mode       string    `json:"mode"`
	ModTime    time.Time `json:"mtime"`
	User       string    `json:"user,omitempty"`
	Group      string    `json:"group,omitempty"`
	LinkTarget string    `json:"link_target,omitempty"`
}

// walkTree calls fn for every node under tree id, depth first, in order.
func walkTree(ctx context.Context, r *repo.Repository, id crypto.ID, prefix string, fn func(p string, n *tree.Node) error) error {
	t, err := r.LoadTree(ctx, id)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		p := path.Join(prefix, n.Name)
		if err := fn(p, n); err != nil {
			return err
		}
		if n.Type == tree.Dir && n.Subtree != nil {
			if err := walkTree(ctx, r, *n.Subtree, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func modeString(n *tree.Node) string {
	c := map[string]byte{tree.Dir: 'd', tree.Symlink: 'l', tree.Dev: 'b', tree.CharDev: 'c', tree.FIFO: 'p', tree.Socket: 's'}[n.Type]
	if c == 0 {
		c = '-'
	}
	const rwx = "rwxrwxrwx"
	b := []byte{c}
	for i := 0; i < 9; i++ {
		if n.Mode&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	return string(b)
}

func newLs() *cobra.Command {
	var long bool
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [PATH]",
		Short: "List the files in a snapshot",
		Long: `List the files and folders saved in a snapshot, optionally only under PATH
(a path as it was on the backed-up machine). SNAPSHOT is an ID, the first
characters of one, or "latest".`,
		Example: `  rempart ls latest
  rempart ls 3f2a9c1d /srv/shares/mairie --long`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "ls", true)
			if err != nil {
				return err
			}
			defer s.Close()
			sn, err := s.r.FindSnapshot(ctx, args[0])
			if err != nil {
				return err
			}
			under := "/"
			if len(args) == 2 {
				under = path.Clean("/" + args[1])
			}
			var out []lsEntry
			err = walkTree(ctx, s.r, sn.Tree, "/", func(p string, n *tree.Node) error {
				if under != "/" && p != under && !strings.HasPrefix(p, under+"/") {
					return nil
				}
				e := lsEntry{Path: p, PathRaw: rawIfInvalid(p), Type: n.Type, Size: n.Size, Mode: modeString(n), ModTime: n.ModTime, User: n.User, Group: n.Group, LinkTarget: n.LinkTarget}
				if g.json {
					out = append(out, e)
					return nil
				}
				name := tree.RawName(p)
				if n.Type == tree.Dir {
					name += "/"
				}
				if n.Type == tree.Symlink {
					name += " -> " + tree.RawName(n.LinkTarget)
				}
				if long {
					fmt.Printf("%s %8s %8s %10s %s %s\n", e.Mode, n.User, n.Group, ui.Bytes(n.Size), n.ModTime.Local().Format(time.DateTime), name)
				} else {
					fmt.Println(name)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if g.json {
				if out == nil {
					out = []lsEntry{}
				}
				return printJSON(out)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show mode, owner, size and time")
	return cmd
}

// rawIfInvalid returns the bytes of a name that JSON cannot carry exactly
// (not valid UTF-8), so that scripts can still name the file.
func rawIfInvalid(p string) []byte {
	if utf8.ValidString(p) {
		return nil
	}
	return []byte(p)
}
