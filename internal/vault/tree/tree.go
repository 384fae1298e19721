// Package tree owns the directory format: a tree blob lists the entries of
// one directory (files, sub-directories, symlinks, devices...) with their
// metadata, the IDs of a file's content blobs in order, and the ID of a
// sub-directory's own tree. Trees are JSON, sorted by name, so that an
// unchanged directory always yields the same bytes and the same blob ID.
package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rempart/rempart/internal/vault/crypto"
)

// Node types.
const (
	File    = "file"
	Dir     = "dir"
	Symlink = "symlink"
	Dev     = "dev"
	CharDev = "chardev"
	FIFO    = "fifo"
	Socket  = "socket"
)

// Node is one directory entry.
type Node struct {
	Name       string      `json:"-"`
	Type       string      `json:"type"`
	Mode       uint32      `json:"mode"` // permission and special bits (07777)
	ModTime    time.Time   `json:"mtime"`
	ChangeTime time.Time   `json:"ctime,omitzero"`
	UID        uint32      `json:"uid"`
	GID        uint32      `json:"gid"`
	User       string      `json:"user,omitempty"`
	Group      string      `json:"group,omitempty"`
	Inode      uint64      `json:"inode,omitempty"`
	DeviceID   uint64      `json:"device_id,omitempty"` // st_dev, to tell hard links apart across file systems
	Links      uint64      `json:"links,omitempty"`
	Rdev       uint64      `json:"rdev,omitempty"`
	Size       uint64      `json:"size,omitempty"`
	Content    []crypto.ID `json:"content,omitempty"`
	Subtree    *crypto.ID  `json:"subtree,omitempty"`
	LinkTarget string      `json:"-"`
	Error      string      `json:"error,omitempty"` // why the entry could not be read in full
	// Sentinel holds what the ransomware detector learnt of this file's
	// content when it was read (a sentinel.Features as JSON), so that the
	// next backup compares a changed file with its previous version
	// without reading it again.
	Sentinel json.RawMessage `json:"sentinel,omitempty"`
}

// wire carries names that may not be valid UTF-8.
type wire struct {
	Name          string `json:"name,omitempty"`
	NameRaw       []byte `json:"name_raw,omitempty"`
	LinkTarget    string `json:"linktarget,omitempty"`
	LinkTargetRaw []byte `json:"linktarget_raw,omitempty"`
	*nodeAlias
}

type nodeAlias Node

// MarshalJSON writes names as strings, or base64 when not valid UTF-8.
func (n Node) MarshalJSON() ([]byte, error) {
	w := wire{nodeAlias: (*nodeAlias)(&n)}
	if utf8.ValidString(n.Name) {
		w.Name = n.Name
	} else {
		w.NameRaw = []byte(n.Name)
	}
	if utf8.ValidString(n.LinkTarget) {
		w.LinkTarget = n.LinkTarget
	} else {
		w.LinkTargetRaw = []byte(n.LinkTarget)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads either form of names.
func (n *Node) UnmarshalJSON(b []byte) error {
	w := wire{nodeAlias: (*nodeAlias)(n)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n.Name = w.Name
	if w.NameRaw != nil {
		n.Name = string(w.NameRaw)
	}
	n.LinkTarget = w.LinkTarget
	if w.LinkTargetRaw != nil {
		n.LinkTarget = string(w.LinkTargetRaw)
	}
	return nil
}

// Tree is one directory's listing.
type Tree struct {
	Nodes []*Node `json:"nodes"`
}

// Sort orders nodes by name (byte order), as stored.
func (t *Tree) Sort() {
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].Name < t.Nodes[j].Name })
}

// Find returns the node with that name, or nil. Nodes must be sorted.
func (t *Tree) Find(name string) *Node {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return t.Nodes[i]
	}
	return nil
}

// Encode serialises a tree (sorting it first).
func Encode(t *Tree) ([]byte, error) {
	t.Sort()
	var buf bytes.Buffer
	buf.WriteString(`{"nodes":[`)
	for i, n := range t.Nodes {
		if i > 0 {
			buf.WriteByte(',')
		}
		// n.MarshalJSON, not json.Marshal(n): the latter would scan and
		// compact the node's JSON a second time, which showed in backup
		// profiles. Same bytes (TestEncodeSameAsMarshal).
		b, err := n.MarshalJSON()
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteString("]}\n")
	return buf.Bytes(), nil
}

// ErrFormat means a tree blob is not valid.
var ErrFormat = errors.New("tree is damaged")

// Decode parses and validates a tree blob.
func Decode(b []byte) (*Tree, error) {
	var t Tree
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	for i, n := range t.Nodes {
		if n == nil {
			return nil, fmt.Errorf("%w: empty entry", ErrFormat)
		}
		if n.Name == "" || n.Name == "." || n.Name == ".." || strings.ContainsRune(n.Name, '/') || strings.ContainsRune(n.Name, 0) {
			return nil, fmt.Errorf("%w: unsafe name %q", ErrFormat, n.Name)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("%w: entries not sorted or duplicated at %q", ErrFormat, n.Name)
		}
		switch n.Type {
		case File, Symlink, Dev, CharDev, FIFO, Socket:
		case Dir:
			if n.Subtree == nil {
				return nil, fmt.Errorf("%w: directory %q has no subtree", ErrFormat, n.Name)
			}
		default:
			return nil, fmt.Errorf("%w: unknown type %q for %q", ErrFormat, n.Type, n.Name)
		}
	}
	return &t, nil
}

// RawName returns a name safe to print: invalid UTF-8 bytes are escaped.
func RawName(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return fmt.Sprintf("%q", s)
}
