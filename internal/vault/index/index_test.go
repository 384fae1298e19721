package index_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
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

func sampleFile() *index.File {
	return &index.File{
		Packs: []index.PackInfo{
			{ID: id("p1"), Size: 1 << 24, Blobs: []pack.Blob{
				{Type: pack.DataBlob, Flags: pack.FlagZstd, ID: id("b1"), Offset: 0, Length: 1000, RawLength: 4000},
				{Type: pack.DataBlob, ID: id("b2"), Offset: 1000, Length: 28, RawLength: 0},
			}},
			{ID: id("p2"), Size: 500, Blobs: []pack.Blob{
				{Type: pack.TreeBlob, ID: id("t1"), Offset: 0, Length: 300, RawLength: 272},
			}},
		},
		Supersedes: []crypto.ID{id("old index")},
	}
}

// decodeEqual checks that f survives Encode then Decode.
func decodeEqual(t *testing.T, k *crypto.Key, f *index.File) {
	t.Helper()
	got, err := index.Decode(k, index.Encode(k, f))
	if err != nil {
		t.Fatalf("Decode(Encode(f)): %v", err)
	}
	if !sameFile(got, f) {
		t.Fatalf("round trip changed the file:\n got %+v\nwant %+v", got, f)
	}
}

func sameFile(a, b *index.File) bool {
	if len(a.Packs) != len(b.Packs) || len(a.Supersedes) != len(b.Supersedes) {
		return false
	}
	for i := range a.Packs {
		pa, pb := a.Packs[i], b.Packs[i]
		if pa.ID != pb.ID || pa.Size != pb.Size || len(pa.Blobs) != len(pb.Blobs) {
			return false
		}
		if len(pa.Blobs) > 0 && !reflect.DeepEqual(pa.Blobs, pb.Blobs) {
			return false
		}
	}
	return len(a.Supersedes) == 0 || reflect.DeepEqual(a.Supersedes, b.Supersedes)
}

func TestEncodeDecode(t *testing.T) {
	k := testKey(t)
	decodeEqual(t, k, sampleFile())
	decodeEqual(t, k, &index.File{})
	sealed := index.Encode(k, sampleFile())
	sealed[len(sealed)/2] ^= 1
	if _, err := index.Decode(k, sealed); !errors.Is(err, crypto.ErrAuth) {
		t.Errorf("damaged index file: %v, want ErrAuth", err)
	}
}

// TestEncodeDecodePacksWithoutBlobs: prune writes a PackInfo for every pack
// it keeps, with the blobs the in-memory index attributes to it, which can
// be none (every blob of the pack also lives in another pack, and "the
// first one wins"). Whatever Encode writes, Decode must read back.
func TestEncodeDecodePacksWithoutBlobs(t *testing.T) {
	k := testKey(t)
	for n := 1; n <= 5; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := &index.File{}
			for i := 0; i < n; i++ {
				f.Packs = append(f.Packs, index.PackInfo{ID: id(fmt.Sprint("pack", i)), Size: 16 << 20})
			}
			decodeEqual(t, k, f)
		})
	}
}

func TestIndexInMemory(t *testing.T) {
	x := index.New()
	f := sampleFile()
	for _, p := range f.Packs {
		x.AddPack(p)
	}
	x.AddPack(f.Packs[0]) // again: no-op
	// The same blob in a later pack: Lookup gives the first copy, and every
	// copy is kept (a snapshot may list either pack).
	x.AddPack(index.PackInfo{ID: id("p3"), Size: 2000, Blobs: []pack.Blob{{Type: pack.DataBlob, ID: id("b1"), Offset: 5, Length: 100, RawLength: 4000}}})
	if x.Count(pack.DataBlob) != 2 || x.Count(pack.TreeBlob) != 1 {
		t.Errorf("counts %d data %d tree", x.Count(pack.DataBlob), x.Count(pack.TreeBlob))
	}
	loc, ok := x.Lookup(pack.DataBlob, id("b1"))
	if !ok || loc.Pack != id("p1") || loc.Offset != 0 || loc.Length != 1000 || loc.RawLength != 4000 || loc.Flags != pack.FlagZstd {
		t.Errorf("Lookup b1: %+v %v", loc, ok)
	}
	if x.Has(pack.TreeBlob, id("b1")) || !x.Has(pack.TreeBlob, id("t1")) {
		t.Error("blob types are not kept apart")
	}
	if s, ok := x.PackSize(id("p2")); !ok || s != 500 || len(x.Packs()) != 3 || !x.HasPack(id("p3")) {
		t.Errorf("packs: %v", x.Packs())
	}
	if locs := x.Locations(pack.DataBlob, id("b1")); len(locs) != 2 || locs[0].Pack != id("p1") || locs[1].Pack != id("p3") || locs[1].Offset != 5 {
		t.Errorf("Locations b1: %+v", locs)
	}
	if locs := x.Locations(pack.DataBlob, id("none")); len(locs) != 0 {
		t.Errorf("Locations of an unknown blob: %+v", locs)
	}
	n := 0
	x.Each(func(crypto.ID, index.Location) { n++ })
	if n != 4 {
		t.Errorf("Each saw %d blob copies, want 4", n)
	}
	// Concurrent readers and writers (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				x.AddPack(index.PackInfo{ID: id(fmt.Sprint(i, j)), Size: 100, Blobs: []pack.Blob{{ID: id(fmt.Sprint("b", i, j)), Length: 50}}})
				x.Has(pack.DataBlob, id(fmt.Sprint("b", i, j)))
			}
		}(i)
	}
	wg.Wait()
	if x.Count(pack.DataBlob) != 402 {
		t.Errorf("after concurrent adds: %d data blobs, want 402", x.Count(pack.DataBlob))
	}
}

// TestGonePacks: a pack that storage no longer holds (collected by a
// server) hides its copies of blobs from Has and Lookup, while the other
// copies, the packs added later, and Locations stay as they were.
func TestGonePacks(t *testing.T) {
	x := index.New()
	for _, p := range sampleFile().Packs {
		x.AddPack(p)
	}
	x.AddPack(index.PackInfo{ID: id("p3"), Size: 2000, Blobs: []pack.Blob{{Type: pack.DataBlob, ID: id("b1"), Offset: 5, Length: 100, RawLength: 4000}}})
	inP3 := func(p crypto.ID) bool { return p == id("p3") }
	if loc, ok := x.LookupPreferring(pack.DataBlob, id("b1"), inP3); !ok || loc.Pack != id("p3") || loc.Offset != 5 {
		t.Errorf("LookupPreferring p3: %+v %v", loc, ok)
	}
	if loc, ok := x.LookupPreferring(pack.DataBlob, id("b2"), inP3); !ok || loc.Pack != id("p1") {
		t.Errorf("LookupPreferring of a blob with one copy: %+v %v", loc, ok)
	}

	absent := x.MarkAbsent(map[crypto.ID]int64{id("p2"): 500, id("p3"): 2000, id("unindexed"): 1})
	if len(absent) != 1 || absent[0] != id("p1") || !x.Gone(id("p1")) || x.Gone(id("p2")) || x.Gone(id("nope")) {
		t.Fatalf("MarkAbsent: %v", absent)
	}
	if n := x.MarkGone(id("p1"), id("nope")); n != 0 {
		t.Errorf("marking again counted %d", n)
	}
	if !x.Has(pack.DataBlob, id("b1")) {
		t.Error("b1 has a copy in p3, which is there")
	}
	if loc, ok := x.Lookup(pack.DataBlob, id("b1")); !ok || loc.Pack != id("p3") || loc.Offset != 5 {
		t.Errorf("Lookup b1 with p1 gone: %+v %v", loc, ok)
	}
	if loc, ok := x.LookupPreferring(pack.DataBlob, id("b1"), func(p crypto.ID) bool { return p == id("p1") }); !ok || loc.Pack != id("p3") {
		t.Errorf("LookupPreferring a gone pack: %+v %v", loc, ok)
	}
	if x.Has(pack.DataBlob, id("b2")) {
		t.Error("b2 is only in p1, which is gone: it must not count as stored")
	}
	if _, ok := x.Lookup(pack.DataBlob, id("b2")); ok {
		t.Error("Lookup found b2 in a gone pack")
	}
	if locs := x.Locations(pack.DataBlob, id("b2")); len(locs) != 1 || locs[0].Pack != id("p1") {
		t.Errorf("Locations must still show copies in gone packs: %+v", locs)
	}
	// Stored again in a new pack (a backup re-uploads it): known again.
	x.AddPack(index.PackInfo{ID: id("p4"), Size: 100, Blobs: []pack.Blob{{Type: pack.DataBlob, ID: id("b2"), Length: 28}}})
	if loc, ok := x.Lookup(pack.DataBlob, id("b2")); !ok || loc.Pack != id("p4") {
		t.Errorf("Lookup b2 after it was stored again: %+v %v", loc, ok)
	}
	if len(x.Packs()) != 4 || !x.HasPack(id("p1")) {
		t.Errorf("gone packs stay indexed (prune and check need them): %v", x.Packs())
	}
	// Concurrent marking and reading (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				p := id(fmt.Sprint("g", i, j))
				x.AddPack(index.PackInfo{ID: p, Size: 100, Blobs: []pack.Blob{{ID: id(fmt.Sprint("gb", i, j)), Length: 50}}})
				x.MarkGone(p)
				if x.Has(pack.DataBlob, id(fmt.Sprint("gb", i, j))) {
					t.Errorf("blob of gone pack %d/%d is known", i, j)
				}
			}
		}(i)
	}
	wg.Wait()
}

func FuzzParse(f *testing.F) {
	k := testKey(f)
	for _, file := range []*index.File{sampleFile(), {}, {Supersedes: []crypto.ID{id("x")}}} {
		plain, err := k.Open(nil, index.Encode(k, file), []byte("rempart index v1"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(plain)
	}
	f.Add([]byte("RIX1"))
	f.Add([]byte("RIX1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte("RIX0"))
	f.Fuzz(func(t *testing.T, plain []byte) {
		file, err := index.Parse(plain)
		if err != nil {
			if !errors.Is(err, index.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		for _, p := range file.Packs {
			if p.Size < 0 {
				t.Fatalf("negative pack size %d", p.Size)
			}
			for _, b := range p.Blobs {
				if b.Type > pack.TreeBlob || int64(b.Offset)+int64(b.Length) > p.Size {
					t.Fatalf("blob out of range accepted: %+v in pack of %d bytes", b, p.Size)
				}
			}
		}
		// What parses survives a round trip.
		decodeEqual(t, k, file)
	})
}
