package sentinel

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestZZSurvey(t *testing.T) {
	root := os.Getenv("SURVEY")
	if root == "" {
		t.Skip()
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		f, _ := os.Open(p)
		st, _ := f.Stat()
		o := NewObserver(d.Name(), st.Size())
		io.CopyBuffer(o, f, make([]byte, 32<<10))
		f.Close()
		ft := o.Features()
		rel, _ := filepath.Rel(root, p)
		fmt.Printf("%s\t%d\t%s\t%d\tent=%.2f\thigh=%.2f\tchi=%.1f\tr0=%v\tstp=%.2f\ttext=%.2f\tb64=%v\tnote=%v\tblk=%d\n", rel, st.Size(), ft.Kind, ft.Valid, ft.Entropy, ft.High, ft.Chi, ft.Head, ft.Stripes, ft.Text, ft.Encoded, ft.Note, ft.Blocks)
		return nil
	})
}
