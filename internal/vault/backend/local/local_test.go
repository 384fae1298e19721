package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/backend"
)

func TestLoadIntoReusesTheBuffer(t *testing.T) {
	ctx := context.Background()
	l, err := Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.Pack, Name: strings.Repeat("ab", 32)}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := l.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	got, err := backend.LoadInto(ctx, l, h, 100, 2000, buf)
	if err != nil || !bytes.Equal(got, data[100:2100]) {
		t.Fatalf("LoadInto: %v", err)
	}
	if &got[0] != &buf[:1][0] {
		t.Error("LoadInto did not read into the buffer it was given")
	}
	// Too small a buffer: a new one, same bytes as Load.
	got, err = backend.LoadInto(ctx, l, h, 0, int64(len(data)), buf)
	want, lerr := l.Load(ctx, h, 0, int64(len(data)))
	if err != nil || lerr != nil || !bytes.Equal(got, want) || !bytes.Equal(got, data) {
		t.Fatalf("LoadInto %v, Load %v", err, lerr)
	}
	// Past the end: the same clear error as Load.
	if _, err := backend.LoadInto(ctx, l, h, int64(len(data))-10, 20, buf); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading past the end: %v", err)
	}
	if _, err := backend.LoadInto(ctx, l, backend.Handle{Type: backend.Pack, Name: strings.Repeat("cd", 32)}, 0, 10, buf); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}
