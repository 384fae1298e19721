package snapshot_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

func testKey(tb testing.TB) *crypto.Key {
	tb.Helper()
	k, err := crypto.KeyFromMaster(bytes.Repeat([]byte{7}, crypto.MasterKeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func id(s string) crypto.ID { return crypto.Hash([]byte(s)) }

func sample() *snapshot.Snapshot {
	parent := id("parent")
	return &snapshot.Snapshot{Time: time.Date(2026, 11, 2, 3, 4, 5, 6, time.UTC), Host: "host", Username: "ana",
		Paths: []string{"/home/ana", "/etc"}, Tags: []string{"daily"}, Tree: id("tree"), Parent: &parent, Program: "rempart test",
		Summary: &snapshot.Summary{FilesNew: 3, BytesAdded: 100}}
}

func TestEncodeDecode(t *testing.T) {
	k := testKey(t)
	packs := []crypto.ID{id("b"), id("a"), id("b"), id("c")}
	file, err := snapshot.Encode(k, sample(), packs)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := snapshot.ReadPacks(file)
	if err != nil || len(got) != 3 || n != 8+3*crypto.IDSize {
		t.Fatalf("ReadPacks: %v %d %v; want 3 sorted distinct packs", got, n, err)
	}
	if !bytes.Equal(got[0][:], snapshot.SortUnique(packs)[0][:]) {
		t.Error("pack list not sorted")
	}
	sn, err := snapshot.Decode(k, file)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if !sn.Time.Equal(want.Time) || sn.Host != want.Host || sn.Tree != want.Tree || *sn.Parent != *want.Parent ||
		fmt.Sprint(sn.Paths, sn.Tags) != fmt.Sprint(want.Paths, want.Tags) || *sn.Summary != *want.Summary ||
		sn.ID != crypto.Hash(file) || len(sn.Packs) != 3 || !sn.HasTag("daily") || sn.HasTag("weekly") {
		t.Errorf("Decode: %+v", sn)
	}

	// Every single-byte change, anywhere, is refused.
	for i := range file {
		bad := append([]byte(nil), file...)
		bad[i] ^= 0x01
		if _, err := snapshot.Decode(k, bad); err == nil {
			t.Fatalf("byte %d changed: still decodes", i)
		} else if !errors.Is(err, snapshot.ErrFormat) && !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("byte %d changed: unexpected error %v", i, err)
		}
	}
	// And so is every truncation.
	for n := 0; n < len(file); n++ {
		if _, err := snapshot.Decode(k, file[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: still decodes", n)
		}
	}
}

func FuzzReadPacks(f *testing.F) {
	k := testKey(f)
	for _, packs := range [][]crypto.ID{nil, {id("a")}, {id("a"), id("b"), id("c")}} {
		file, err := snapshot.Encode(k, sample(), packs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(file)
	}
	f.Add([]byte("RSN1\xff\xff\xff\xff"))
	f.Add([]byte("RSN1\x01\x00\x00\x00"))
	f.Add([]byte("RSN2\x02\x00\x00\x00\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, file []byte) {
		h, end, err := snapshot.ReadHeader(file)
		if err != nil {
			if !errors.Is(err, snapshot.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		packs := h.Packs
		// RSN1: magic, count. RSN2: magic, flag and 3 reserved bytes, count.
		countAt := 4
		if string(file[:4]) == "RSN2" {
			countAt = 8
			if h.Flag < snapshot.FlagClean || h.Flag > snapshot.FlagInfected {
				t.Fatalf("flag %d accepted", h.Flag)
			}
		} else if h.Flag != snapshot.FlagNone {
			t.Fatalf("RSN1 header with flag %d", h.Flag)
		}
		if end != countAt+4+len(packs)*crypto.IDSize || end > len(file) || len(packs) > snapshot.MaxPacks {
			t.Fatalf("header end %d for %d packs in %d bytes", end, len(packs), len(file))
		}
		for i := 1; i < len(packs); i++ {
			if bytes.Compare(packs[i-1][:], packs[i][:]) >= 0 {
				t.Fatal("pack list accepted unsorted")
			}
		}
		if binary.LittleEndian.Uint32(file[countAt:]) != uint32(len(packs)) {
			t.Fatal("pack count mismatch")
		}
		if p2, e2, err := snapshot.ReadPacks(file); err != nil || e2 != end || len(p2) != len(packs) {
			t.Fatal("ReadPacks disagrees with ReadHeader")
		}
	})
}

// FuzzDecode reaches the JSON body by sealing the fuzzed bytes under a
// valid header, and also decodes the fuzzed bytes as a whole file.
func FuzzDecode(f *testing.F) {
	k := testKey(f)
	file, err := snapshot.Encode(k, sample(), []crypto.ID{id("a")})
	if err != nil {
		f.Fatal(err)
	}
	hdr := file[:8+crypto.IDSize]
	body, err := k.Open(nil, file[len(hdr):], hdr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, uint8(1))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","tree":"zz"}`), uint8(0))
	f.Add([]byte(`{"parent":null,"summary":{"files_new":-1}}`), uint8(2))
	f.Add([]byte(`null`), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, npacks uint8) {
		if _, err := snapshot.Decode(k, body); err == nil && !bytes.HasPrefix(body, []byte("RSN1")) {
			t.Fatal("a file without the magic decoded")
		}
		packs := make([]crypto.ID, npacks%8)
		for i := range packs {
			packs[i] = id(fmt.Sprint(i))
		}
		packs = snapshot.SortUnique(packs)
		h := binary.LittleEndian.AppendUint32([]byte("RSN1"), uint32(len(packs)))
		for _, p := range packs {
			h = append(h, p[:]...)
		}
		sealed := k.Seal(append([]byte(nil), h...), body, h)
		sn, err := snapshot.Decode(k, sealed)
		if err != nil {
			if !errors.Is(err, snapshot.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		if len(sn.Packs) != len(packs) || sn.ID != crypto.Hash(sealed) {
			t.Fatal("packs or ID not filled in")
		}
		// What decodes encodes and decodes again to the same snapshot.
		again, err := snapshot.Encode(k, sn, sn.Packs)
		if err != nil {
			return // e.g. a time JSON cannot write back
		}
		sn2, err := snapshot.Decode(k, again)
		if err != nil {
			t.Fatalf("Encode output does not decode: %v", err)
		}
		if !sn2.Time.Equal(sn.Time) || sn2.Tree != sn.Tree || sn2.Host != sn.Host || len(sn2.Packs) != len(sn.Packs) {
			t.Fatal("round trip changed the snapshot")
		}
	})
}

// The verdict flag travels in clear, bound to the sealed body: a server reads
// it without the key, and nobody can change it unnoticed.
func TestVerdictFlag(t *testing.T) {
	k := testKey(t)
	packs := []crypto.ID{id("b"), id("a")}
	for _, f := range []snapshot.Flag{snapshot.FlagNone, snapshot.FlagClean, snapshot.FlagSuspect, snapshot.FlagInfected} {
		s := sample()
		s.Flag = f
		s.Sentinel = []byte(`{"verdict":"` + f.String() + `"}`)
		file, err := snapshot.Encode(k, s, packs)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := snapshot.ReadHeader(file)
		if err != nil || h.Flag != f || len(h.Packs) != 2 {
			t.Fatalf("flag %v: header %+v, %v", f, h, err)
		}
		wantMagic := "RSN2"
		if f == snapshot.FlagNone {
			wantMagic = "RSN1" // the first layout, readable by older versions
		}
		if string(file[:4]) != wantMagic {
			t.Fatalf("flag %v written with magic %q", f, file[:4])
		}
		got, err := snapshot.Decode(k, file)
		if err != nil || got.Flag != f || string(got.Sentinel) != string(s.Sentinel) {
			t.Fatalf("flag %v: decoded %+v, %v", f, got, err)
		}
		if f == snapshot.FlagNone {
			continue
		}
		// Turning "infected" into "clean" (or any change) breaks the seal.
		forged := bytes.Clone(file)
		forged[4] = byte(snapshot.FlagClean)
		if f == snapshot.FlagClean {
			forged[4] = byte(snapshot.FlagSuspect)
		}
		if _, err := snapshot.Decode(k, forged); err == nil {
			t.Fatalf("flag %v: a changed flag was accepted", f)
		}
	}
	for _, bad := range [][]byte{[]byte("RSN2\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("RSN2\x09\x00\x00\x00\x00\x00\x00\x00"), []byte("RSN2\x01\x00\x01\x00\x00\x00\x00\x00"), []byte("RSN2\x01")} {
		if _, _, err := snapshot.ReadHeader(bad); err == nil {
			t.Errorf("ReadHeader(%q) accepted", bad)
		}
	}
	s := sample()
	s.Flag = 9
	if _, err := snapshot.Encode(k, s, packs); err == nil {
		t.Error("Encode accepted an unknown flag")
	}
}
