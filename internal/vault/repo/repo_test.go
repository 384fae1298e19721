package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
)

const testPassphrase = "correct horse battery staple"

func initRepo(t *testing.T) (dir string, r *repo.Repository, recovery string) {
	t.Helper()
	dir = t.TempDir()
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, recovery, err = repo.Init(context.Background(), be, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	return dir, r, recovery
}

func open(t *testing.T, dir, secret string) (*repo.Repository, error) {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Open(context.Background(), be, secret)
}

func TestOpenWithPassphraseAndRecoveryKey(t *testing.T) {
	dir, r0, recovery := initRepo(t)
	master := r0.Key().Master()

	r, err := open(t, dir, testPassphrase)
	if err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
	if !bytes.Equal(r.Key().Master(), master) || r.Config().ID != r0.Config().ID {
		t.Fatal("the passphrase opened another master key")
	}

	for _, wrong := range []string{"Correct horse battery staple", testPassphrase + " ", "", "x"} {
		if _, err := open(t, dir, wrong); !errors.Is(err, repo.ErrWrongPassword) {
			t.Errorf("passphrase %q: %v, want ErrWrongPassword", wrong, err)
		}
	}

	// The recovery key, as printed and as a person may type it.
	variants := []string{
		recovery,
		strings.ToLower(recovery),
		strings.ReplaceAll(recovery, "-", " "),
		strings.ReplaceAll(recovery, "-", ""),
		"  " + strings.ReplaceAll(strings.ReplaceAll(recovery, "0", "o"), "1", "l") + "\n",
	}
	for _, v := range variants {
		r, err := open(t, dir, v)
		if err != nil {
			t.Errorf("recovery key %q: %v", v, err)
			continue
		}
		if !bytes.Equal(r.Key().Master(), master) {
			t.Errorf("recovery key %q opened another master key", v)
		}
	}

	// One character off: caught by the checksum before any decryption.
	typo := ""
	for i := 0; i < len(recovery) && typo == ""; i++ {
		if recovery[i] == '-' {
			continue
		}
		for _, c := range "0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
			cand := recovery[:i] + string(c) + recovery[i+1:]
			if byte(c) != recovery[i] {
				if _, err := crypto.ParseRecoveryKey(cand); errors.Is(err, crypto.ErrRecoveryChecksum) {
					typo = cand
					break
				}
			}
		}
	}
	if _, err := open(t, dir, typo); !errors.Is(err, crypto.ErrRecoveryChecksum) {
		t.Errorf("recovery key with a typo: %v, want ErrRecoveryChecksum", err)
	}

	// The recovery key of another repository is just a wrong secret.
	_, _, other := initRepo(t)
	if _, err := open(t, dir, other); !errors.Is(err, repo.ErrWrongPassword) {
		t.Errorf("another repository's recovery key: %v, want ErrWrongPassword", err)
	}
}

func TestAddAndRemoveKeys(t *testing.T) {
	ctx := context.Background()
	dir, r, recovery := initRepo(t)
	id, err := r.AddPassphrase(ctx, "second passphrase")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := open(t, dir, "second passphrase")
	if err != nil || r2.KeyID() != id {
		t.Fatalf("new passphrase: %v (key %s, want %s)", err, r2.KeyID(), id)
	}
	if err := r2.RemoveKey(ctx, id); err == nil {
		t.Error("removing the key in use succeeded")
	}
	// Remove the first passphrase with the second one; the last one stays.
	if err := r2.RemoveKey(ctx, r.KeyID()); err != nil {
		t.Fatalf("removing the first passphrase: %v", err)
	}
	if _, err := open(t, dir, testPassphrase); !errors.Is(err, repo.ErrWrongPassword) {
		t.Errorf("removed passphrase still opens: %v", err)
	}
	rr, err := open(t, dir, recovery)
	if err != nil {
		t.Fatal(err)
	}
	if err := rr.RemoveKey(ctx, id); err == nil {
		t.Error("removing the last passphrase succeeded")
	}
	keys, err := rr.ListKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %+v %v", keys, err)
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNotARepository(t *testing.T) {
	ctx := context.Background()

	// An empty folder, and a folder of something else.
	empty := t.TempDir()
	if _, err := open(t, empty, testPassphrase); !errors.Is(err, repo.ErrNotRepository) {
		t.Errorf("empty folder: %v, want ErrNotRepository", err)
	}
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "notes.txt"), []byte("hello"))
	if _, err := open(t, other, testPassphrase); !errors.Is(err, repo.ErrNotRepository) {
		t.Errorf("folder of something else: %v, want ErrNotRepository", err)
	}

	// A missing folder, and a file instead of a folder.
	if _, err := local.Open(filepath.Join(empty, "missing")); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("missing folder: %v, want ErrNotFound", err)
	}
	if _, err := local.Open(filepath.Join(other, "notes.txt")); err == nil {
		t.Error("a file opened as a repository folder")
	}

	// Damaged or foreign configs.
	dir, r, _ := initRepo(t)
	cfgPath := filepath.Join(dir, "config")
	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	newer := r.Config()
	newer.Version = repo.FormatVersion + 1
	newerJSON, _ := json.Marshal(newer)
	noChunker := r.Config()
	noChunker.Chunker = repo.ChunkerParams{}
	noChunkerJSON, _ := json.Marshal(noChunker)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"garbage", []byte("\x00\x01 not json"), repo.ErrNotRepository},
		{"truncated", good[:len(good)/2], repo.ErrNotRepository},
		{"empty", nil, repo.ErrNotRepository},
		{"other json", []byte(`{"hello":"world"}`), repo.ErrNotRepository},
		{"no chunker", noChunkerJSON, repo.ErrNotRepository},
		{"newer format", newerJSON, repo.ErrNewerFormat},
	} {
		_ = os.Chmod(cfgPath, 0o600)
		writeFile(t, cfgPath, tc.data)
		be, err := local.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.ReadConfig(ctx, be); !errors.Is(err, tc.want) {
			t.Errorf("config %s: ReadConfig: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := repo.Open(ctx, be, testPassphrase); !errors.Is(err, tc.want) {
			t.Errorf("config %s: Open: %v, want %v", tc.name, err, tc.want)
		}
	}

	// A config without key files.
	writeFile(t, cfgPath, good)
	if err := os.RemoveAll(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dir, testPassphrase); !errors.Is(err, repo.ErrNotRepository) {
		t.Errorf("no key files: %v, want ErrNotRepository", err)
	}

	// Init refuses a folder that holds a repository or anything else.
	if _, err := local.Create(other); err == nil {
		t.Error("local.Create accepted a folder that is not empty")
	}
	be, _ := local.Open(dir)
	if _, _, err := repo.Init(ctx, be, testPassphrase); err == nil {
		t.Error("Init over an existing repository succeeded")
	}
}

// TestReadConfigRejectsAbsurdChunker: the config is plain JSON; a damaged
// or tampered one must not hand the chunker sizes the format cannot hold
// (blob lengths are 32-bit) nor buffers larger than memory: every backup
// worker allocates Chunker.Max bytes.
func TestReadConfigRejectsAbsurdChunker(t *testing.T) {
	ctx := context.Background()
	dir, r, _ := initRepo(t)
	for _, p := range []repo.ChunkerParams{
		{Algorithm: "fastcdc-v1.0.0", Min: 512 << 10, Avg: 1 << 20, Max: 1 << 40},
		{Algorithm: "fastcdc-v1.0.0", Min: 512 << 10, Avg: 1 << 20, Max: 1 << 32},
	} {
		cfg := r.Config()
		cfg.Chunker = p
		buf, _ := json.Marshal(cfg)
		_ = os.Chmod(filepath.Join(dir, "config"), 0o600)
		writeFile(t, filepath.Join(dir, "config"), buf)
		be, _ := local.Open(dir)
		if got, err := repo.ReadConfig(ctx, be); err == nil {
			t.Errorf("ReadConfig accepted chunker max %d (min %d avg %d)", got.Chunker.Max, got.Chunker.Min, got.Chunker.Avg)
		}
	}
}
