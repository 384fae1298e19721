package clientconf

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	sv, err := s.Put("https://backup.example:8443/mairie-a")
	if err != nil {
		t.Fatal(err)
	}
	sv.CAFingerprint = "AB:CD"
	sv.Admin = &Session{Username: "admin", Token: "t", Expires: time.Now().Add(time.Hour)}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	s2, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	got := s2.Server("https://backup.example:8443")
	if got == nil || got.URL != "https://backup.example:8443" || got.CAFingerprint != "AB:CD" || !got.Admin.Valid(time.Now()) {
		t.Errorf("loaded %+v", got)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(s.Path()), ".servers-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if _, _, err := Key("http://x:1"); err == nil {
		t.Error("http:// accepted")
	}
}
