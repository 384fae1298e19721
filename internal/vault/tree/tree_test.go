package tree_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/tree"
)

func sampleTree() *tree.Tree {
	sub := crypto.Hash([]byte("sub"))
	mt := time.Date(2026, 11, 2, 3, 4, 5, 123456789, time.UTC)
	return &tree.Tree{Nodes: []*tree.Node{
		{Name: "z-last", Type: tree.File, Mode: 0o644, ModTime: mt, Size: 3, Content: []crypto.ID{crypto.Hash([]byte("c"))}, Inode: 5, Links: 2, DeviceID: 9},
		{Name: "\xff\xfe", Type: tree.Symlink, Mode: 0o777, ModTime: mt, LinkTarget: "\xfe/target\n"},
		{Name: "dir", Type: tree.Dir, Mode: 0o2755, ModTime: mt, Subtree: &sub, UID: 1000, GID: 1000, User: "ana", Group: "staff"},
		{Name: "new\nline é😀", Type: tree.File, Mode: 0o4755, ModTime: mt, ChangeTime: mt.Add(time.Second)},
		{Name: "fifo", Type: tree.FIFO, Mode: 0o600, ModTime: time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC)},
		{Name: "dev", Type: tree.CharDev, Mode: 0o600, ModTime: mt, Rdev: 0x0501},
		{Name: "err", Type: tree.File, ModTime: mt, Error: "permission denied"},
	}}
}

func TestEncodeDecode(t *testing.T) {
	in := sampleTree()
	b, err := tree.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tree.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(t)): %v", err)
	}
	in.Sort()
	if len(out.Nodes) != len(in.Nodes) {
		t.Fatalf("%d nodes, want %d", len(out.Nodes), len(in.Nodes))
	}
	for i := range in.Nodes {
		if !sameNode(in.Nodes[i], out.Nodes[i]) {
			t.Errorf("node %d: got %+v, want %+v", i, out.Nodes[i], in.Nodes[i])
		}
	}
	// Stable bytes: encoding again (any input order) gives the same blob.
	shuffled := sampleTree()
	shuffled.Nodes[0], shuffled.Nodes[3] = shuffled.Nodes[3], shuffled.Nodes[0]
	b2, _ := tree.Encode(shuffled)
	if !bytes.Equal(b, b2) {
		t.Error("the same tree encodes to different bytes")
	}
	if out.Find("dir") == nil || out.Find("\xff\xfe").LinkTarget != "\xfe/target\n" || out.Find("nope") != nil {
		t.Error("Find")
	}
}

func sameNode(a, b *tree.Node) bool {
	x, y := *a, *b
	if !x.ModTime.Equal(y.ModTime) || !x.ChangeTime.Equal(y.ChangeTime) {
		return false
	}
	x.ModTime, y.ModTime, x.ChangeTime, y.ChangeTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(x.Content) == 0 && len(y.Content) == 0 {
		x.Content, y.Content = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

func TestDecodeRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":     `{"nodes":[`,
		"null node":    `{"nodes":[null]}`,
		"empty name":   `{"nodes":[{"name":"","type":"file"}]}`,
		"dot":          `{"nodes":[{"name":".","type":"file"}]}`,
		"dotdot":       `{"nodes":[{"name":"..","type":"dir","subtree":"` + crypto.Hash(nil).String() + `"}]}`,
		"slash":        `{"nodes":[{"name":"a/b","type":"file"}]}`,
		"raw slash":    `{"nodes":[{"name_raw":"Li4vZXRj","type":"file"}]}`, // "../etc"
		"nul":          `{"nodes":[{"name":"a\u0000b","type":"file"}]}`,
		"unsorted":     `{"nodes":[{"name":"b","type":"file"},{"name":"a","type":"file"}]}`,
		"duplicate":    `{"nodes":[{"name":"a","type":"file"},{"name":"a","type":"file"}]}`,
		"dir, no tree": `{"nodes":[{"name":"a","type":"dir"}]}`,
		"bad type":     `{"nodes":[{"name":"a","type":"door"}]}`,
		"bad id":       `{"nodes":[{"name":"a","type":"file","content":["xyz"]}]}`,
	} {
		if _, err := tree.Decode([]byte(doc)); !errors.Is(err, tree.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, err := tree.Encode(sampleTree())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"nodes":[]}`))
	f.Add([]byte(`{"nodes":[{"name_raw":"/w==","type":"file","mtime":"2020-01-01T00:00:00+01:00"}]}`))
	f.Add([]byte(`{"nodes":[{"name":"a","name_raw":"Yg==","type":"symlink","linktarget_raw":"/w=="}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := tree.Decode(data)
		if err != nil {
			if !errors.Is(err, tree.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		// What decodes is safe to restore and survives a round trip.
		for _, n := range tr.Nodes {
			if n.Name == "" || n.Name == "." || n.Name == ".." || bytes.ContainsAny([]byte(n.Name), "/\x00") {
				t.Fatalf("unsafe name accepted: %q", n.Name)
			}
		}
		enc, err := tree.Encode(tr)
		if err != nil {
			return // e.g. a time that JSON cannot write back
		}
		again, err := tree.Decode(enc)
		if err != nil {
			t.Fatalf("Encode output does not decode: %v\n%s", err, enc)
		}
		if len(again.Nodes) != len(tr.Nodes) {
			t.Fatalf("round trip: %d nodes, want %d", len(again.Nodes), len(tr.Nodes))
		}
		for i := range tr.Nodes {
			if !sameNode(tr.Nodes[i], again.Nodes[i]) {
				t.Fatalf("round trip changed node %d:\n got %+v\nwant %+v", i, again.Nodes[i], tr.Nodes[i])
			}
		}
		enc2, _ := tree.Encode(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
	})
}

// TestEncodeSameAsMarshal: Encode writes each node with its MarshalJSON
// directly; the bytes must be those json.Marshal gives (the format of
// trees already stored), names with HTML characters and sentinel JSON
// with spaces included.
func TestEncodeSameAsMarshal(t *testing.T) {
	tr := sampleTree()
	tr.Nodes = append(tr.Nodes,
		&tree.Node{Name: "<a&b>.txt", Type: tree.File, Sentinel: json.RawMessage(`{"kind": "text", "ent": 4.5}`)},
		&tree.Node{Name: "s", Type: tree.File, Sentinel: json.RawMessage(`{"kind":"zip","valid":1,"ent":7.9}`)},
	)
	tr.Sort()
	var want bytes.Buffer
	want.WriteString(`{"nodes":[`)
	for i, n := range tr.Nodes {
		if i > 0 {
			want.WriteByte(',')
		}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		want.Write(b)
	}
	want.WriteString("]}\n")
	got, err := tree.Encode(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("Encode:\n%s\njson.Marshal:\n%s", got, want.Bytes())
	}
}
