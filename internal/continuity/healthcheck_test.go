package continuity

import (
	"strings"
	"testing"
)

// TestHealthCheckField: health_check (added to format 1 for restore
// drills) is optional, read, written back, compared, and bounded.
func TestHealthCheckField(t *testing.T) {
	src := `format: 1
services:
  - id: etat-civil
    name: Civil registry
    criticality: vital
    rto: 1d
    rpo: 24h
    sources: [{host: app01, path: /srv/etat-civil}]
    health_check: sqlite3 "$REMPART_DRILL_SOURCE/registre.db" 'SELECT count(*) FROM actes'
`
	p, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Services[0].HealthCheck; got != `sqlite3 "$REMPART_DRILL_SOURCE/registre.db" 'SELECT count(*) FROM actes'` {
		t.Fatalf("health_check %q", got)
	}
	b, err := Encode(p, "")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil || back.Services[0].HealthCheck != p.Services[0].HealthCheck {
		t.Fatalf("round trip: %v %+v\n%s", err, back, b)
	}
	// Without it, the plan reads as before and writes no such field.
	old, err := Decode([]byte(strings.Replace(src, "    health_check: "+p.Services[0].HealthCheck+"\n", "", 1)))
	if err != nil || old.Services[0].HealthCheck != "" {
		t.Fatalf("plan without health_check: %v", err)
	}
	if b, _ := Encode(old, ""); strings.Contains(string(b), "health_check") {
		t.Errorf("an empty health_check is written:\n%s", b)
	}
	d := Compare(old, p)
	if len(d.Changed) != 1 || strings.Join(d.Changed[0].Fields, ",") != "health_check" {
		t.Errorf("Compare: %+v", d)
	}
	long := strings.Replace(src, "SELECT count(*)", strings.Repeat("x", 5000), 1)
	if _, err := Decode([]byte(long)); err == nil || !strings.Contains(err.Error(), "health_check: longer than 4096 bytes") {
		t.Errorf("a 5 KB health check: %v", err)
	}
}
