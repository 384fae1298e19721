package vaulttest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// TestHashFileHelper checks the comparison helper itself: the same bytes
// hash alike whether stored sparse or not, and one changed byte shows.
func TestHashFileHelper(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	data[5] = 1
	data[2<<20+7] = 9
	dense := filepath.Join(dir, "dense")
	vaulttest.MustWrite(t, dense, data, 0o600)
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{9}, 2<<20+7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if vaulttest.HashFile(t, dense) != vaulttest.HashFile(t, sparse) {
		t.Fatal("same bytes, different hashes")
	}
	data[1<<20] = 1
	vaulttest.MustWrite(t, dense, data, 0o600)
	if vaulttest.HashFile(t, dense) == vaulttest.HashFile(t, sparse) {
		t.Fatal("one byte differs, same hashes")
	}
	data[1<<20] = 0
	vaulttest.MustWrite(t, dense, data, 0o600)
	vaulttest.MustWrite(t, sparse, append(data, 0), 0o600)
	if vaulttest.HashFile(t, dense) == vaulttest.HashFile(t, sparse) {
		t.Fatal("different sizes, same hashes")
	}
}
