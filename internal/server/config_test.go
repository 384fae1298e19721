package server

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rempart.yaml")
	if err := os.WriteFile(p, []byte("listen: 0.0.0.0:9443\ndata: d\nextra_names: [backup.mairie.local]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9443" || c.Data != filepath.Join(dir, "d") || len(c.ExtraNames) != 1 {
		t.Errorf("loaded %+v", c)
	}
	if err := os.WriteFile(p, []byte("listne: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(p); err == nil {
		t.Error("a misspelt key is accepted")
	}
}
