package main

import (
	"context"
	"fmt"
	"path"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/tree"
)

type diffEntry struct {
	Path    string `json:"path"`
	PathRaw []byte `json:"path_raw,omitempty"` // when not valid UTF-8
	Change  string `json:"change"`             // added, removed, modified, metadata
	Type    string `json:"type"`
}

// diffTrees compares two trees; unchanged sub-trees (same ID) are skipped
// without being read.
func diffTrees(ctx context.Context, r *repo.Repository, a, b *crypto.ID, prefix string, fn func(diffEntry)) error {
	if a != nil && b != nil && *a == *b {
		return nil
	}
	load := func(id *crypto.ID) (*tree.Tree, error) {
		if id == nil {
			return &tree.Tree{}, nil
		}
		return r.LoadTree(ctx, *id)
	}
	ta, err := load(a)
	if err != nil {
		return err
	}
	tb, err := load(b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ta.Nodes) || j < len(tb.Nodes) {
		var na, nb *tree.Node
		switch {
		case j >= len(tb.Nodes) || (i < len(ta.Nodes) && ta.Nodes[i].Name < tb.Nodes[j].Name):
			na = ta.Nodes[i]
			i++
		case i >= len(ta.Nodes) || tb.Nodes[j].Name < ta.Nodes[i].Name:
			nb = tb.Nodes[j]
			j++
		default:
			na, nb = ta.Nodes[i], tb.Nodes[j]
			i++
			j++
		}
		var name, typ string
		if na != nil {
			name, typ = na.Name, na.Type
		} else {
			name, typ = nb.Name, nb.Type
		}
		p := path.Join(prefix, name)
		switch {
		case nb == nil:
			fn(diffEntry{Path: p, Change: "removed", Type: typ})
			if na.Type == tree.Dir {
				if err := diffTrees(ctx, r, na.Subtree, nil, p, fn); err != nil {
					return err
				}
			}
		case na == nil:
			fn(diffEntry{Path: p, Change: "added", Type: typ})
			if nb.Type == tree.Dir {
				if err := diffTrees(ctx, r, nil, nb.Subtree, p, fn); err != nil {
					return err
				}
			}
		case na.Type != nb.Type:
			fn(diffEntry{Path: p, Change: "removed", Type: na.Type})
			fn(diffEntry{Path: p, Change: "added", Type: nb.Type})
		case na.Type == tree.Dir:
			if err := diffTrees(ctx, r, na.Subtree, nb.Subtree, p, fn); err != nil {
				return err
			}
		case !sameContent(na, nb):
			fn(diffEntry{Path: p, Change: "modified", Type: typ})
		case na.Mode != nb.Mode || !na.ModTime.Equal(nb.ModTime) || na.UID != nb.UID || na.GID != nb.GID:
			fn(diffEntry{Path: p, Change: "metadata", Type: typ})
		}
	}
	return nil
}

func sameContent(a, b *tree.Node) bool {
	if a.Size != b.Size || a.LinkTarget != b.LinkTarget || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if a.Content[i] != b.Content[i] {
			return false
		}
	}
	return true
}

func newDiff() *cobra.Command {
	return &cobra.Command{
		Use:   "diff SNAPSHOT1 SNAPSHOT2",
		Short: "Show what changed between two snapshots",
		Long: `Show the files added (+), removed (-), modified (M) and with changed metadata
only (U: mode, owner or time) from SNAPSHOT1 to SNAPSHOT2.`,
		Example: `  rempart diff 3f2a9c1d latest`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openRepo(ctx, noLock, "diff", true)
			if err != nil {
				return err
			}
			defer s.Close()
			a, err := s.r.FindSnapshot(ctx, args[0])
			if err != nil {
				return err
			}
			b, err := s.r.FindSnapshot(ctx, args[1])
			if err != nil {
				return err
			}
			var out []diffEntry
			counts := map[string]int{}
			err = diffTrees(ctx, s.r, &a.Tree, &b.Tree, "/", func(d diffEntry) {
				counts[d.Change]++
				d.PathRaw = rawIfInvalid(d.Path)
				if g.json {
					out = append(out, d)
					return
				}
				sym := map[string]string{"added": "+", "removed": "-", "modified": "M", "metadata": "U"}[d.Change]
				suffix := ""
				if d.Type == tree.Dir {
					suffix = "/"
				}
				fmt.Printf("%s  %s%s\n", sym, tree.RawName(d.Path), suffix)
			})
			if err != nil {
				return err
			}
			if g.json {
				if out == nil {
					out = []diffEntry{}
				}
				return printJSON(map[string]any{"from": a.ID.String(), "to": b.ID.String(), "changes": out, "counts": counts})
			}
			say("\n%d added, %d removed, %d modified, %d metadata only", counts["added"], counts["removed"], counts["modified"], counts["metadata"])
			return nil
		},
	}
}
