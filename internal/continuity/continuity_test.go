package continuity

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func svc(id string, crit Criticality, rto time.Duration, deps ...string) Service {
	return Service{ID: id, Name: id, Criticality: crit, RTO: Duration(rto), RPO: Duration(24 * time.Hour), DependsOn: deps,
		Sources: []Source{{Host: "h-" + id, Path: "/srv/" + id}}}
}

func plan(s ...Service) *Plan { return &Plan{Format: 1, Services: s} }

// waves renders the order as "a b | c | d".
func waves(a *Analysis) string {
	var ws []string
	for i, w := range a.Waves {
		var ids []string
		for _, s := range w.Services {
			ids = append(ids, s.ID)
		}
		if w.Number != i+1 {
			return "bad wave number"
		}
		ws = append(ws, strings.Join(ids, " "))
	}
	return strings.Join(ws, " | ")
}

func kinds(a *Analysis) []string {
	var out []string
	for _, p := range a.Problems {
		out = append(out, p.Kind+":"+p.Service)
	}
	return out
}

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func TestRecoveryOrder(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		name string
		plan *Plan
		want string
	}{
		{"empty", plan(), ""},
		{"chain", plan(svc("c", 1, h, "b"), svc("b", 1, h, "a"), svc("a", 4, h)), "a | b | c"},
		{"diamond", plan(svc("top", 1, h, "left", "right"), svc("left", 3, h, "base"), svc("right", 2, h, "base"), svc("base", 4, h)),
			"base | right left | top"},
		{"parallel waves", plan(svc("a", 2, h), svc("b", 2, h), svc("c", 2, h, "a"), svc("d", 2, h, "b")), "a b | c d"},
		{"criticality first", plan(svc("low", 4, h), svc("high", 1, 48*h), svc("mid", 2, h)), "high mid low"},
		{"then shorter RTO", plan(svc("slow", 2, 48*h), svc("fast", 2, 2*h)), "fast slow"},
		{"then name", plan(Service{ID: "z", Name: "Alpha", Criticality: 2, RTO: Duration(h), RPO: 1}, Service{ID: "a", Name: "Beta", Criticality: 2, RTO: Duration(h), RPO: 1}), "z a"},
		{"dependency wins over criticality", plan(svc("vital", 1, h, "dir"), svc("dir", 4, 72*h)), "dir | vital"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyse(tc.plan, nil, now)
			if got := waves(a); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
			if a.Errors() != 0 {
				t.Errorf("problems: %+v", a.Problems)
			}
			// Positions run 1, 2, 3... over the waves.
			n := 0
			for _, w := range a.Waves {
				for _, s := range w.Services {
					n++
					if s.Position != n {
						t.Errorf("%s at position %d, want %d", s.ID, s.Position, n)
					}
				}
			}
		})
	}
}

func TestCyclesAreNamed(t *testing.T) {
	h := time.Hour
	a := Analyse(plan(svc("ok", 1, h), svc("paie", 2, h, "annuaire"), svc("annuaire", 2, h, "fichiers"),
		svc("fichiers", 3, h, "paie", "ok"), svc("web", 4, h, "paie"), svc("self", 3, h, "self")), nil, now)
	if got := waves(a); got != "ok" {
		t.Errorf("order %q, want only ok", got)
	}
	if want := []string{"annuaire", "fichiers", "paie", "self", "web"}; !reflect.DeepEqual(a.Unordered, want) {
		t.Errorf("unordered %v, want %v", a.Unordered, want)
	}
	var cycles []string
	var blocked []string
	for _, p := range a.Problems {
		if p.Kind != ProblemCycle || p.Severity != SeverityError {
			continue
		}
		if p.Cycle != nil {
			cycles = append(cycles, strings.Join(p.Cycle, " → "))
			if !strings.Contains(p.Message, strings.Join(p.Cycle, " → ")) {
				t.Errorf("message does not name the cycle: %s", p.Message)
			}
		} else {
			blocked = append(blocked, p.Service)
		}
	}
	if want := []string{"annuaire → fichiers → paie → annuaire", "self → self"}; !reflect.DeepEqual(cycles, want) {
		t.Errorf("cycles %q, want %q", cycles, want)
	}
	if !reflect.DeepEqual(blocked, []string{"web"}) {
		t.Errorf("blocked by a cycle: %v, want [web]", blocked)
	}
}

func TestUnknownDependency(t *testing.T) {
	a := Analyse(plan(svc("a", 1, time.Hour, "ghost"), svc("b", 2, time.Hour, "a")), nil, now)
	if got := waves(a); got != "a | b" {
		t.Errorf("order %q: an unknown dependency must not block the rest", got)
	}
	if len(a.Problems) != 1 || a.Problems[0].Kind != ProblemUnknownDependency || a.Problems[0].Dependency != "ghost" ||
		!strings.Contains(a.Problems[0].Message, `"ghost"`) {
		t.Errorf("problems %+v", a.Problems)
	}
}

func TestSourcesAgainstRPO(t *testing.T) {
	p := plan(
		Service{ID: "fresh", Name: "Fresh", Criticality: 1, RTO: Duration(time.Hour), RPO: Duration(24 * time.Hour),
			Sources: []Source{{Host: "fs01", Path: "/a"}, {Host: "fs01", Path: "/b"}}},
		Service{ID: "stale", Name: "Stale", Criticality: 1, RTO: Duration(time.Hour), RPO: Duration(time.Hour),
			Sources: []Source{{Host: "DB01", Path: "/var/db"}}},
		Service{ID: "never", Name: "Never", Criticality: 2, RTO: Duration(time.Hour), RPO: Duration(time.Hour),
			Sources: []Source{{Host: "nobody", Path: "/x"}, {Host: "fs01", Path: "/other"}}},
		Service{ID: "nosrc", Name: "No source", Criticality: 3, RTO: Duration(time.Hour), RPO: Duration(time.Hour)},
	)
	snaps := []Snapshot{
		{Host: "fs01", Path: "/a", Latest: now.Add(-2 * time.Hour)},
		{Host: "fs01", Path: "/b", Latest: now.Add(-23 * time.Hour)},
		{Host: "db01", Latest: now.Add(-90 * time.Minute)}, // the server: any path of the host, any case
		{Host: "db01", Latest: now.Add(-3 * time.Hour)},
	}
	a := Analyse(p, snaps, now)
	got := kinds(a)
	want := []string{ProblemStale + ":stale", ProblemNoSnapshot + ":never", ProblemNoSnapshot + ":never", ProblemNoSource + ":nosrc"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems %v, want %v", got, want)
	}
	if m := a.Problems[0].Message; !strings.Contains(m, "1h30m old") || !strings.Contains(m, "RPO of 1h") {
		t.Errorf("stale message: %s", m)
	}
	status := map[string]string{}
	for _, s := range a.Sources {
		status[s.Service+" "+s.Source.String()] = s.Status
	}
	if !reflect.DeepEqual(status, map[string]string{"fresh fs01:/a": "ok", "fresh fs01:/b": "ok", "stale DB01:/var/db": "stale",
		"never nobody:/x": "missing", "never fs01:/other": "missing"}) {
		t.Errorf("sources %v", status)
	}
	// Without snapshot data, only the missing sources are reported.
	if got := kinds(Analyse(p, nil, now)); !reflect.DeepEqual(got, []string{ProblemNoSource + ":nosrc"}) {
		t.Errorf("without snapshots: %v", got)
	}
}

func TestSmallTownExample(t *testing.T) {
	data := Example
	p, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	a := Analyse(p, nil, now)
	if got, want := waves(a), "eau annuaire site-web | etat-civil messagerie fichiers | paie"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if len(a.Problems) != 0 {
		t.Errorf("problems: %+v", a.Problems)
	}
	// docs/continuity.md shows the same plan.
	doc, err := os.ReadFile("../../docs/continuity.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil || !bytes.Equal(m[1], data) {
		t.Errorf("the first yaml block of docs/continuity.md is example.yaml")
	}
}

func TestRoundTrip(t *testing.T) {
	data := Example
	p, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(p, "version 3 of mairie-a\nsaved by account:dsi")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("# version 3 of mairie-a\n# saved by account:dsi\nformat: 1\n")) {
		t.Errorf("export starts with:\n%s", out[:100])
	}
	q, err := Decode(out)
	if err != nil {
		t.Fatalf("decode the export: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("export(apply(x)) differs:\n%+v\n%+v", p, q)
	}
	if d := Compare(p, q); !d.Empty() {
		t.Errorf("diff of a round trip: %+v", d)
	}
	again, _ := Encode(q, "version 3 of mairie-a\nsaved by account:dsi")
	if !bytes.Equal(out, again) {
		t.Errorf("export is not stable")
	}
	// JSON too (the API's form), canonical bytes stable.
	j1, err := p.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseJSON(j1)
	if err != nil {
		t.Fatalf("%v\n%s", err, j1)
	}
	j2, _ := r.MarshalCanonical()
	if !bytes.Equal(j1, j2) || !reflect.DeepEqual(p, r) {
		t.Errorf("JSON round trip differs:\n%s\n%s", j1, j2)
	}
	// Criticality as a number in JSON.
	if _, err := ParseJSON([]byte(`{"format":1,"services":[{"id":"a","name":"A","criticality":2,"rto":"4h","rpo":"1d"}]}`)); err != nil {
		t.Errorf("criticality as a number: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	base := "format: 1\nservices:\n  - id: a\n    name: A\n    criticality: 1\n    rto: 4h\n    rpo: 1d\n"
	if _, err := Decode([]byte(base)); err != nil {
		t.Fatalf("base plan: %v", err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field in a service", base + "    colour: blue\n", `line 8: unknown field "colour" in a service`},
		{"unknown top-level field", "format: 1\nservice: []\n", `line 2: unknown field "service" in the plan`},
		{"unknown field in a source", base + "    sources:\n      - {host: a, path: /x, dir: /y}\n", `line 9: unknown field "dir" in a source`},
		{"bad duration", strings.Replace(base, "4h", "4 hours", 1), `line 6: duration "4 hours"`},
		{"bad unit", strings.Replace(base, "4h", "4y", 1), `unknown unit "y"`},
		{"zero rto", strings.Replace(base, "4h", "0h", 1), "rto: must be more than 0"},
		{"negative rpo", strings.Replace(base, "rpo: 1d", "rpo: -1d", 1), "line 7: duration"},
		{"missing rpo", strings.Replace(base, "    rpo: 1d\n", "", 1), "rpo: must be more than 0"},
		{"bad criticality", strings.Replace(base, "criticality: 1", "criticality: 5", 1), "line 5: criticality \"5\""},
		{"duplicate id", base + "  - {id: a, name: B, criticality: 2, rto: 1h, rpo: 1h}\n", `services[1] (a) at line 8: id "a" is already the id of services[0]`},
		{"bad id", strings.Replace(base, "id: a", "id: État civil", 1), "use lower-case letters"},
		{"no format", strings.Replace(base, "format: 1\n", "", 1), "format: missing"},
		{"future format", strings.Replace(base, "format: 1", "format: 2", 1), "upgrade rempart"},
		{"bad date", base + "reviewed_at: 30/11/2026\n", "YYYY-MM-DD"},
		{"list for a text", strings.Replace(base, "name: A", "name: [A]", 1), "line 4: a list where a text was expected"},
		{"two documents", base + "---\nformat: 1\n", "second YAML document"},
		{"empty", "   \n", "the plan is empty"},
		{"comment only", "# nothing\n", "the plan is empty"},
		{"not a mapping", "- a\n- b\n", "line 1: a plan is a mapping"},
		{"syntax", "format: 1\nservices: [\n", "not valid YAML"},
		{"duplicate source", base + "    sources: [{host: a, path: /x}, {host: a, path: /x}]\n", "a:/x is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"4h": 4 * time.Hour, "1d12h": 36 * time.Hour, "2w": 14 * 24 * time.Hour,
		"90m": 90 * time.Minute, "1.5d": 36 * time.Hour, "45s": 45 * time.Second, "1h0.5s": time.Hour + 500*time.Millisecond} {
		d, err := ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("%q → %q → %v, %v", in, d, back, err)
		}
	}
	for d, want := range map[time.Duration]string{36 * time.Hour: "1d12h", 90 * time.Minute: "1h30m", 7 * 24 * time.Hour: "7d"} {
		if got := Duration(d).String(); got != want {
			t.Errorf("%v prints %q, want %q", d, got, want)
		}
	}
	for _, bad := range []string{"", "h", "4", "4x", "1e9w", "-"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestCompare(t *testing.T) {
	h := time.Hour
	old := plan(svc("a", 1, h), svc("b", 2, h), svc("c", 3, h))
	old.Title = "v1"
	nw := plan(svc("c", 3, h), svc("b", 2, 2*h, "c"), svc("d", 4, h))
	nw.Title = "v2"
	d := Compare(old, nw)
	want := Diff{Added: []string{"d"}, Removed: []string{"a"}, Changed: []Change{{ID: "b", Fields: []string{"rto", "depends_on"}}}, Plan: []string{"title"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("diff %+v, want %+v", d, want)
	}
	first := Compare(nil, nw)
	if len(first.Added) != 3 || len(first.Plan) != 0 {
		t.Errorf("first version: %+v", first)
	}
	b, _ := json.Marshal(Compare(nw, nw))
	if string(b) != `{"added":[],"removed":[],"changed":[]}` {
		t.Errorf("empty diff JSON %s", b)
	}
}

func FuzzPlanYAML(f *testing.F) {
	f.Add(Example)
	f.Add([]byte("format: 1\nservices:\n  - {id: a, name: A, criticality: 1, rto: 4h, rpo: 1d, depends_on: [a]}\n"))
	f.Add([]byte("format: 1\nservices: &x [*x]\n"))
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("format: 1\nservices:\n  - id: a\n    rto: 1.5d\n    colour: red\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode accepted a plan that Validate refuses: %v", err)
		}
		// Whatever is accepted survives a round trip, and can be ordered.
		out, err := Encode(p, "fuzz")
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		q, err := Decode(out)
		if err != nil {
			t.Fatalf("decode the export: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
		}
		a := Analyse(p, []Snapshot{{Host: "h", Latest: now}}, now)
		n := len(a.Unordered)
		for _, w := range a.Waves {
			n += len(w.Services)
		}
		if n != len(p.Services) {
			t.Fatalf("%d services in the order, want %d", n, len(p.Services))
		}
	})
}

// TestInRecoveryOrder: waves first, dependencies before dependants, then
// the services a cycle leaves out, each once.
func TestInRecoveryOrder(t *testing.T) {
	h := time.Hour
	p := plan(svc("paie", 2, h, "annuaire"), svc("annuaire", 1, h), svc("x", 3, h, "y"), svc("y", 3, h, "x"), svc("web", 3, h))
	var got []string
	for _, s := range p.InRecoveryOrder() {
		got = append(got, s.ID)
	}
	// Wave 1: annuaire and web (no dependency); wave 2: paie.
	if !reflect.DeepEqual(got, []string{"annuaire", "web", "paie", "x", "y"}) {
		t.Fatalf("InRecoveryOrder = %v", got)
	}
}
