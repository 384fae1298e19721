package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// checkVectors compares v, as indented JSON, with the vectors file at
// path; under -update it rewrites the file instead and reports true (the
// caller stops there: there is nothing to compare). The files are the
// reference of other implementations (web/, the Python cross-checks), so
// any difference fails; why says what to do if it is intended.
func checkVectors(t *testing.T, path string, v any, why string) (updated bool) {
	t.Helper()
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return true
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("%s differs from what this code computes%s", path, why)
	}
	return false
}

// detReader is a deterministic byte stream for tests and vectors:
// SHA-256(label || u64be(counter)) blocks, concatenated.
type detReader struct {
	label string
	n     uint64
	buf   []byte
}

func newDet(label string) *detReader { return &detReader{label: label} }

func (d *detReader) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(d.label), d.n))
		d.n++
		d.buf = append(d.buf, h[:]...)
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// seed32 is a fixed 32-byte value named by label.
func seed32(label string) []byte {
	h := sha256.Sum256([]byte(label))
	return h[:]
}

func mustIdentity(t testing.TB, name string) *Identity {
	t.Helper()
	id, err := IdentityFromSeeds(seed32("rempart vector "+name+" sign"), seed32("rempart vector "+name+" dh"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var testTime = time.Date(2026, 12, 5, 9, 14, 3, 120_000_000, time.UTC)

// testRoom is a small room: a coordinator and members, a signed roster at
// epoch 1, and helpers to write envelopes.
type testRoom struct {
	t       testing.TB
	room    string
	ids     map[string]*Identity
	names   []string
	rosters []Signed
	epoch   int64
	version int64
	removed []string
}

func newTestRoom(t testing.TB, names ...string) *testRoom {
	tr := &testRoom{t: t, room: B64.EncodeToString(seed32("room")[:16]), ids: map[string]*Identity{}, epoch: 1}
	for _, n := range names {
		tr.ids[n] = mustIdentity(t, n)
	}
	tr.names = names
	tr.signRoster()
	return tr
}

// signRoster has the coordinator (the first name) sign the current member list.
func (tr *testRoom) signRoster() {
	tr.version++
	r := Roster{V: Version, Room: tr.room, Version: tr.version, Epoch: tr.epoch,
		Coordinator: tr.ids[tr.names[0]].ID(), Time: FormatTime(testTime), Removed: append([]string{}, tr.removed...)}
	for _, n := range tr.names {
		r.Members = append(r.Members, tr.ids[n].Member(tr.room, n, 1))
	}
	tr.rosters = append(tr.rosters, tr.ids[tr.names[0]].Sign(LabelRoster, tr.room, mustJSON(tr.t, r)))
}

// remove drops a member and starts a new epoch.
func (tr *testRoom) remove(name string) {
	tr.removed = append(tr.removed, tr.ids[name].ID())
	var keep []string
	for _, n := range tr.names {
		if n != name {
			keep = append(keep, n)
		}
	}
	tr.names = keep
	tr.epoch++
	tr.signRoster()
}

func (tr *testRoom) recipients() []Recipient {
	var out []Recipient
	for _, n := range tr.names {
		out = append(out, Recipient{ID: tr.ids[n].ID(), DH: tr.ids[n].DHPub()})
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
