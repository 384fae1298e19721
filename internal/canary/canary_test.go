package canary

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
)

// wellFormed parses an XML part to the end.
func wellFormed(t *testing.T, name string, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Errorf("%s is not well-formed XML: %v", name, err)
			return
		}
	}
}

// TestPlant: every kind of decoy is a valid document of its type, ends with
// the marker, is dated weeks back with mode 0644, and is found by List;
// nothing existing is overwritten.
func TestPlant(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 14, 10, 0, 0, 0, time.Local)
	taken := filepath.Join(dir, "Budget_previsionnel_2027.xlsx")
	if err := os.WriteFile(taken, []byte("the town's real budget"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	planted, err := Plant(dir, MaxPerFolder-1, now)
	syscall.Umask(old)
	if err != nil {
		t.Fatalf("Plant: %v", err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "the town's real budget" {
		t.Errorf("an existing file was overwritten")
	}
	if len(planted) != MaxPerFolder-1 {
		t.Fatalf("planted %d, want %d", len(planted), MaxPerFolder-1)
	}
	names := map[string]bool{}
	for _, p := range planted {
		names[filepath.Base(p.Path)] = true
		fi, err := os.Stat(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", p.Path, fi.Mode().Perm())
		}
		if age := now.Sub(fi.ModTime()); age < 14*24*time.Hour || age > 47*24*time.Hour {
			t.Errorf("%s: dated %s, %s before planting", p.Path, fi.ModTime(), age)
		}
		data, err := os.ReadFile(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Token) != 32 || !bytes.HasSuffix(bytes.TrimRight(data, "\n"), []byte(Marker+p.Token)) {
			t.Errorf("%s does not end with its marker %s%s", p.Path, Marker, p.Token)
		}
		if tok, ok := Token(data); !ok || tok != p.Token {
			t.Errorf("%s: Token() = %q %v", p.Path, tok, ok)
		}
		// What a backup sees when it reads the decoy.
		obs := sentinel.NewObserver(filepath.Base(p.Path), int64(len(data)))
		_, _ = obs.Write(data)
		if f := obs.Features(); !f.Canary {
			t.Errorf("%s: the detection does not recognise the decoy: %+v", p.Path, f)
		}
		switch p.Kind {
		case "txt":
			if !strings.HasSuffix(p.Path, ".txt") || bytes.ContainsRune(data, 0) {
				t.Errorf("%s: not a text file", p.Path)
			}
		default:
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("%s: not a valid ZIP: %v", p.Path, err)
			}
			if zr.Comment != Marker+p.Token {
				t.Errorf("%s: archive comment %q", p.Path, zr.Comment)
			}
			parts := map[string]bool{}
			for i, f := range zr.File {
				parts[f.Name] = true
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("%s: %s: %v", p.Path, f.Name, err)
				}
				if strings.HasSuffix(f.Name, ".xml") || strings.HasSuffix(f.Name, ".rels") {
					wellFormed(t, p.Path+":"+f.Name, b)
				}
				if p.Kind == "odt" && i == 0 && (f.Name != "mimetype" || f.Method != zip.Store || string(b) != "application/vnd.oasis.opendocument.text") {
					t.Errorf("%s: ODF needs an uncompressed mimetype first, got %s (method %d)", p.Path, f.Name, f.Method)
				}
			}
			need := map[string][]string{
				"xlsx": {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml"},
				"docx": {"[Content_Types].xml", "_rels/.rels", "word/document.xml"},
				"odt":  {"mimetype", "META-INF/manifest.xml", "content.xml"},
			}[p.Kind]
			for _, n := range need {
				if !parts[n] {
					t.Errorf("%s: no %s", p.Path, n)
				}
			}
		}
	}
	if names["Budget_previsionnel_2027.xlsx"] || !names["Paie_agents_decembre_2025.xlsx"] || !names["Mots_de_passe_serveurs.txt"] {
		t.Errorf("names: %v", names)
	}

	// Every name is now taken: a second plant refuses rather than overwrite.
	if p, err := Plant(dir, 2, now); err == nil || len(p) != 0 {
		t.Errorf("second plant: %v %v; want no decoy and an error", p, err)
	}

	found, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(planted) {
		t.Errorf("List found %d decoys, want %d: %+v", len(found), len(planted), found)
	}
	if _, err := Plant(dir, 0, now); err == nil {
		t.Error("count 0 accepted")
	}
}
