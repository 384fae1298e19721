package continuity

import (
	"reflect"
	"sort"
)

// Change is a service present in two versions of a plan whose fields
// differ.
type Change struct {
	ID     string   `json:"id"`
	Fields []string `json:"fields"` // the file's field names: rto, sources...
}

// Diff sums up what changes from one version of a plan to the next.
type Diff struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []Change `json:"changed"`
	// Plan lists the plan's own fields that changed (title, reviewed_at...).
	Plan []string `json:"plan,omitempty"`
}

// Empty reports whether nothing changes.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Plan) == 0
}

// Compare returns what changes from old (nil: no plan yet) to new. The
// order of services in the file is not a change.
func Compare(old, new *Plan) Diff {
	if old == nil {
		old = &Plan{}
	}
	d := Diff{Added: []string{}, Removed: []string{}, Changed: []Change{}}
	was := map[string]Service{}
	for _, s := range old.Services {
		was[s.ID] = s
	}
	is := map[string]bool{}
	for _, s := range new.Services {
		is[s.ID] = true
		o, ok := was[s.ID]
		if !ok {
			d.Added = append(d.Added, s.ID)
			continue
		}
		if f := fieldsChanged(o, s); len(f) > 0 {
			d.Changed = append(d.Changed, Change{ID: s.ID, Fields: f})
		}
	}
	for _, s := range old.Services {
		if !is[s.ID] {
			d.Removed = append(d.Removed, s.ID)
		}
	}
	if old.Format != 0 {
		d.Plan = fieldsChanged(Plan{Format: old.Format, Title: old.Title, ReviewedAt: old.ReviewedAt, ReviewedBy: old.ReviewedBy, RecoveryKeysLocation: old.RecoveryKeysLocation, Contacts: old.Contacts},
			Plan{Format: new.Format, Title: new.Title, ReviewedAt: new.ReviewedAt, ReviewedBy: new.ReviewedBy, RecoveryKeysLocation: new.RecoveryKeysLocation, Contacts: new.Contacts})
	}
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].ID < d.Changed[j].ID })
	return d
}

// fieldsChanged lists the YAML names of the struct fields that differ
// (nil and empty lists are the same).
func fieldsChanged[T any](a, b T) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Slice && fa.Len() == 0 && fb.Len() == 0 {
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			name := va.Type().Field(i).Tag.Get("yaml")
			if j := indexComma(name); j >= 0 {
				name = name[:j]
			}
			out = append(out, name)
		}
	}
	return out
}

func indexComma(s string) int {
	for i := range len(s) {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}
