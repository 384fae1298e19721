package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

// TestTownPlan: the example plan cut down to the demo machine's folders
// is valid, names only that machine's folders, and keeps a recovery order.
func TestTownPlan(t *testing.T) {
	root := t.TempDir()
	b, err := TownPlan("Mairie de Valbonne", "srv-valbonne", root)
	if err != nil {
		t.Fatal(err)
	}
	p, err := continuity.Decode(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(p.Services) != len(townSources) || !strings.Contains(p.Title, "Mairie de Valbonne") {
		t.Fatalf("plan: %q, %d services\n%s", p.Title, len(p.Services), b)
	}
	for _, s := range p.Services {
		if len(s.Sources) != 1 || s.Sources[0].Host != "srv-valbonne" || !strings.HasPrefix(s.Sources[0].Path, root) {
			t.Errorf("service %s: sources %v", s.ID, s.Sources)
		}
	}
	a := continuity.Analyse(p, nil, time.Now())
	if a.Errors() != 0 || len(a.Waves) != 2 {
		t.Errorf("recovery order: %d errors, %d waves", a.Errors(), len(a.Waves))
	}
}

// TestTownSampleAndAttack: the sample has the plan's folders; the attack
// encrypts the shared folders' documents and leaves notes.
func TestTownSampleAndAttack(t *testing.T) {
	root := t.TempDir()
	n, size, err := MakeTownSample(root, "Mairie de Saint-Aubin", 2, "")
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 || size < 100<<10 {
		t.Errorf("sample: %d files, %d bytes", n, size)
	}
	for _, s := range townSources {
		if fi, err := os.Stat(filepath.Join(root, s.path)); err != nil || !fi.IsDir() {
			t.Errorf("no folder for %s: %v", s.service, err)
		}
	}
	hit, err := Attack(filepath.Join(root, "partages"))
	if err != nil {
		t.Fatal(err)
	}
	locked, _ := filepath.Glob(filepath.Join(root, "partages", "*", "*.locked"))
	notes, _ := filepath.Glob(filepath.Join(root, "partages", "*", "COMMENT_RESTAURER_VOS_FICHIERS.txt"))
	if hit < 20 || len(locked) != hit || len(notes) < 3 {
		t.Errorf("attack: %d files hit, %d .locked, %d notes", hit, len(locked), len(notes))
	}
}
