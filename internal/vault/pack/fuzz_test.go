package pack_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/rempart/rempart/internal/vault/crypto"
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

// samplePack builds a real pack of three blobs and returns its bytes and
// the blobs' entries.
func samplePack(k *crypto.Key) ([]byte, []pack.Blob) {
	w := pack.NewWriter(k, 1024)
	for i, s := range []string{"first blob", "", "third blob, a tree"} {
		t := pack.DataBlob
		if i == 2 {
			t = pack.TreeBlob
		}
		id := k.BlobID([]byte(s))
		w.Add(t, id, 0, len(s), k.Seal(nil, []byte(s), pack.BlobAAD(t, id)))
	}
	data, _, blobs := w.Finish()
	return data, blobs
}

// headerPlain builds the plaintext of a header as EncodeHeader lays it out.
func headerPlain(blobs []pack.Blob) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(blobs)))
	for _, bl := range blobs {
		b = append(b, byte(bl.Type), bl.Flags)
		b = append(b, bl.ID[:]...)
		b = binary.LittleEndian.AppendUint32(b, bl.Offset)
		b = binary.LittleEndian.AppendUint32(b, bl.Length)
		b = binary.LittleEndian.AppendUint32(b, bl.RawLength)
	}
	return b
}

func TestPackRoundTrip(t *testing.T) {
	k := testKey(t)
	data, blobs := samplePack(k)
	size := int64(len(data))
	hl, err := pack.ParseTrailer(data[size-pack.TrailerSize:], size)
	if err != nil {
		t.Fatal(err)
	}
	start := size - pack.TrailerSize - hl
	got, err := pack.DecodeHeader(k, data[start:size-pack.TrailerSize], start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blobs) {
		t.Fatalf("got %d blobs, want %d", len(got), len(blobs))
	}
	for i := range got {
		if got[i] != blobs[i] {
			t.Errorf("blob %d: %+v, want %+v", i, got[i], blobs[i])
		}
		b := got[i]
		plain, err := k.Open(nil, data[b.Offset:b.Offset+b.Length], pack.BlobAAD(b.Type, b.ID))
		if err != nil || k.BlobID(plain) != b.ID || uint32(len(plain)) != b.RawLength {
			t.Errorf("blob %d does not open: %v", i, err)
		}
	}
	// The header is bound to the pack format and key: another key fails.
	other, _ := crypto.KeyFromMaster(bytes.Repeat([]byte{8}, crypto.MasterKeySize))
	if _, err := pack.DecodeHeader(other, data[start:size-pack.TrailerSize], start); !errors.Is(err, crypto.ErrAuth) {
		t.Errorf("header opened with another key: %v", err)
	}
	// A blob cannot be passed off as another type or ID.
	b := got[0]
	if _, err := k.Open(nil, data[b.Offset:b.Offset+b.Length], pack.BlobAAD(pack.TreeBlob, b.ID)); err == nil {
		t.Error("a data blob opened as a tree blob")
	}
	// Every truncation of the pack is refused, never misread.
	for n := int64(0); n < size; n++ {
		if n < pack.TrailerSize {
			continue
		}
		hl, err := pack.ParseTrailer(data[n-pack.TrailerSize:n], n)
		if err != nil {
			continue
		}
		st := n - pack.TrailerSize - hl
		if _, err := pack.DecodeHeader(k, data[st:n-pack.TrailerSize], st); err == nil {
			t.Errorf("pack truncated to %d bytes still has a valid header", n)
		}
	}
}

func FuzzParseTrailer(f *testing.F) {
	k := testKey(f)
	data, _ := samplePack(k)
	f.Add(data[len(data)-pack.TrailerSize:], int64(len(data)))
	f.Add([]byte("\x00\x00\x00\x00RPK1"), int64(8))
	f.Add([]byte("\xff\xff\xff\xffRPK1"), int64(1<<40))
	f.Add([]byte("RPK1"), int64(100))
	f.Fuzz(func(t *testing.T, trailer []byte, packSize int64) {
		n, err := pack.ParseTrailer(trailer, packSize)
		if err != nil {
			if !errors.Is(err, pack.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		if n < crypto.Overhead+4 || n > packSize-pack.TrailerSize {
			t.Fatalf("header length %d out of range for a pack of %d bytes", n, packSize)
		}
	})
}

// checkEntries verifies what a successful DecodeHeader promises.
func checkEntries(t *testing.T, got []pack.Blob, headerStart int64) {
	t.Helper()
	for i, b := range got {
		if b.Type > pack.TreeBlob || b.Length < crypto.Overhead || int64(b.Offset)+int64(b.Length) > headerStart {
			t.Fatalf("entry %d accepted out of range: %+v (header at %d)", i, b, headerStart)
		}
	}
}

// FuzzDecodeHeader seals the fuzzed bytes as a header plaintext (with the
// header's associated data, which the package does not export), so that the
// parser behind the authentication is reached; it also tries them as a
// sealed header as they are.
func FuzzDecodeHeader(f *testing.F) {
	k := testKey(f)
	data, blobs := samplePack(k)
	hl, _ := pack.ParseTrailer(data[len(data)-pack.TrailerSize:], int64(len(data)))
	start := int64(len(data)) - pack.TrailerSize - hl
	f.Add(headerPlain(blobs), start)
	f.Add(headerPlain(nil), int64(0))
	f.Add(headerPlain(blobs[:1]), int64(40))
	f.Add(data[start:len(data)-pack.TrailerSize], start)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, int64(1<<40))
	f.Fuzz(func(t *testing.T, plain []byte, headerStart int64) {
		if got, err := pack.DecodeHeader(k, plain, headerStart); err == nil {
			checkEntries(t, got, headerStart)
		} else if !errors.Is(err, crypto.ErrAuth) && !errors.Is(err, pack.ErrFormat) {
			t.Fatalf("unexpected error: %v", err)
		}
		got, err := pack.DecodeHeader(k, k.Seal(nil, plain, []byte("rempart pack header v1")), headerStart)
		if err != nil {
			if !errors.Is(err, pack.ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		checkEntries(t, got, headerStart)
		// What decodes encodes back to the same plaintext.
		if !bytes.Equal(headerPlain(got), plain) {
			t.Fatalf("decoded header does not re-encode to the same bytes")
		}
		enc := pack.EncodeHeader(k, nil, got)
		n := int64(len(enc))
		hl, err := pack.ParseTrailer(enc[n-pack.TrailerSize:], n)
		if err != nil {
			t.Fatal(err)
		}
		again, err := pack.DecodeHeader(k, enc[:hl], headerStart)
		if err != nil || len(again) != len(got) {
			t.Fatalf("EncodeHeader output does not decode: %v", err)
		}
		for i := range again {
			if again[i] != got[i] {
				t.Fatalf("entry %d changed in a round trip", i)
			}
		}
	})
}
