package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
)

// memBackend keeps a repository's small files in memory (fuzzing writes
// thousands of configs and key files a second).
type memBackend struct {
	mu    sync.Mutex
	files map[backend.Handle][]byte
}

func newMem() *memBackend { return &memBackend{files: map[backend.Handle][]byte{}} }

func (m *memBackend) Location() string { return "mem:" }
func (m *memBackend) TempDir() string  { return "" }
func (m *memBackend) Close() error     { return nil }

func (m *memBackend) Save(_ context.Context, h backend.Handle, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.files[h]; ok && !bytes.Equal(old, data) && h.Type != backend.Lock && h.Type != backend.Config {
		return backend.ErrExists
	}
	m.files[h] = append([]byte(nil), data...)
	return nil
}

func (m *memBackend) SaveFile(ctx context.Context, h backend.Handle, f *os.File) error {
	defer os.Remove(f.Name())
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	return m.Save(ctx, h, data)
}

func (m *memBackend) Load(_ context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.files[h]
	if !ok {
		return nil, backend.ErrNotFound
	}
	if length <= 0 {
		length = int64(len(data)) - offset
	}
	if offset < 0 || length < 0 || offset+length > int64(len(data)) {
		return nil, io.ErrUnexpectedEOF
	}
	return append([]byte(nil), data[offset:offset+length]...), nil
}

func (m *memBackend) Open(ctx context.Context, h backend.Handle) (io.ReadCloser, error) {
	data, err := m.Load(ctx, h, 0, 0)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memBackend) Stat(_ context.Context, h backend.Handle) (backend.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.files[h]
	if !ok {
		return backend.FileInfo{}, backend.ErrNotFound
	}
	return backend.FileInfo{Name: h.Name, Size: int64(len(data))}, nil
}

func (m *memBackend) List(_ context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	m.mu.Lock()
	var infos []backend.FileInfo
	for h, data := range m.files {
		if h.Type == t {
			infos = append(infos, backend.FileInfo{Name: h.Name, Size: int64(len(data))})
		}
	}
	m.mu.Unlock()
	for _, fi := range infos {
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

func (m *memBackend) Remove(_ context.Context, h backend.Handle) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[h]; !ok {
		return backend.ErrNotFound
	}
	delete(m.files, h)
	return nil
}

func FuzzReadConfig(f *testing.F) {
	good := repo.Config{Version: 1, ID: "0123456789abcdef0123456789abcdef", Created: time.Unix(1700000000, 0).UTC(),
		Chunker: repo.DefaultChunker, PackSize: repo.DefaultPackSize}
	b, _ := json.MarshalIndent(good, "", "  ")
	f.Add(b)
	for _, mod := range []func(c *repo.Config){
		func(c *repo.Config) { c.Version = 2 },
		func(c *repo.Config) { c.Version = 0 },
		func(c *repo.Config) { c.Chunker.Min = 0 },
		func(c *repo.Config) { c.Chunker.Max = 1 },
		func(c *repo.Config) { c.PackSize = -1 },
		func(c *repo.Config) { c.ID = "" },
	} {
		c := good
		mod(&c)
		b, _ := json.Marshal(c)
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"id":"x","chunker":{"min":1e400}}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMem()
		m.files[backend.Handle{Type: backend.Config}] = data
		cfg, err := repo.ReadConfig(context.Background(), m)
		if err != nil {
			if !errors.Is(err, repo.ErrNotRepository) && !errors.Is(err, repo.ErrNewerFormat) {
				t.Fatalf("ReadConfig error is neither ErrNotRepository nor ErrNewerFormat: %v", err)
			}
			return
		}
		c := cfg.Chunker
		if cfg.Version < 1 || cfg.Version > repo.FormatVersion || cfg.ID == "" || c.Min <= 0 || c.Min > c.Avg || c.Avg > c.Max ||
			cfg.PackSize <= 0 || cfg.PackSize > 1<<30 {
			t.Fatalf("ReadConfig accepted an invalid config: %+v", cfg)
		}
	})
}

// FuzzKeyFile feeds damaged key files to Open: it must fail cleanly with a
// wrong-secret or not-a-repository error, or (for a key file that still
// means the same thing) open the genuine master key; never panic. Only cheap key
// derivations are run (argon2id costs are bounded by DeriveKEK itself, but
// even its accepted maximum is too slow for fuzzing).
func FuzzKeyFile(f *testing.F) {
	ctx := context.Background()
	mem := newMem()
	r0, recovery, err := repo.Init(ctx, mem, testPassphrase)
	if err != nil {
		f.Fatal(err)
	}
	master := r0.Key().Master()
	cfg := mem.files[backend.Handle{Type: backend.Config}]
	for h, data := range mem.files {
		if h.Type == backend.Key {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"version":1,"kind":"recovery","kdf":{"algorithm":"recovery-v1","salt":"AAAAAAAAAAA="},"wrapped":"AAAA"}`))
	f.Add([]byte(`{"version":1,"kind":"passphrase","kdf":{"algorithm":"argon2id","time":1,"memory_kib":8,"threads":1,"salt":"AAAAAAAAAAA="},"wrapped":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var kf repo.KeyFile
		cheap := json.Unmarshal(data, &kf) != nil || kf.Kind != repo.KindPassphrase || kf.KDF.Algorithm != "argon2id" ||
			(kf.KDF.Time <= 1 && kf.KDF.MemoryKiB <= 64)
		m := newMem()
		m.files[backend.Handle{Type: backend.Config}] = cfg
		m.files[backend.Handle{Type: backend.Key, Name: crypto.Hash(data).String()}] = data
		secrets := []string{recovery}
		if cheap {
			secrets = append(secrets, testPassphrase)
		}
		for _, s := range secrets {
			r, err := repo.Open(ctx, m, s)
			if err == nil {
				if !bytes.Equal(r.Key().Master(), master) {
					t.Fatalf("a fuzzed key file opened another master key with %q", s)
				}
				continue
			}
			if !errors.Is(err, repo.ErrWrongPassword) && !errors.Is(err, repo.ErrNotRepository) {
				t.Fatalf("Open: unexpected error %v", err)
			}
		}
	})
}
