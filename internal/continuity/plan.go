// Package continuity holds a tenant's continuity plan: its public services
// (owner, criticality, recovery time and point objectives, the backup
// sources and other assets each one needs, the services it depends on, the
// manual fallback while it is down, whom to call), the recovery order
// computed from their dependencies, and the problems that would stop a
// recovery (dependency cycles, unknown dependencies, services with no
// backup, backups missing or older than the service's RPO).
//
// The package is pure: it reads and writes the plan format (YAML, see
// docs/continuity.md; JSON for the API) and computes from what it is
// given. It never touches the server, the vault or the network: whoever
// calls it supplies the latest snapshot time of each source.
package continuity

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// FormatVersion is the version of the plan format this package reads and
// writes (the `format` field of a plan file).
const FormatVersion = 1

// Plan is a tenant's continuity plan.
type Plan struct {
	// Format is the version of the file format: always FormatVersion.
	Format int `yaml:"format" json:"format"`
	// Title names the plan ("Plan de continuité — Mairie de ...").
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// ReviewedAt is the date of the last review (YYYY-MM-DD), ReviewedBy
	// who did it: NIS2 evidence that the plan is kept up to date.
	ReviewedAt string `yaml:"reviewed_at,omitempty" json:"reviewed_at,omitempty"`
	ReviewedBy string `yaml:"reviewed_by,omitempty" json:"reviewed_by,omitempty"`
	// RecoveryKeysLocation says where the recovery keys (the paper copy of
	// each repository's recovery key, the sealed envelopes of passwords)
	// are kept, in words ("safe of the town hall, office 12"): the printed
	// runbook repeats it. Never the keys themselves.
	RecoveryKeysLocation string `yaml:"recovery_keys_location,omitempty" json:"recovery_keys_location,omitempty"`
	// Contacts are the plan's general contacts (crisis cell, providers).
	Contacts []Contact `yaml:"contacts,omitempty" json:"contacts,omitempty"`
	// Services are the public services the plan protects.
	Services []Service `yaml:"services" json:"services"`
}

// Service is one public service (civil registry, payroll, water...).
type Service struct {
	// ID is short and stable (lower-case letters, digits, '-' and '_'):
	// dependencies name services by it.
	ID          string      `yaml:"id" json:"id"`
	Name        string      `yaml:"name" json:"name"`
	Owner       string      `yaml:"owner,omitempty" json:"owner,omitempty"`
	Criticality Criticality `yaml:"criticality" json:"criticality"`
	// RTO: how long the service may stay down; RPO: how much recent data
	// may be lost (so how old its latest backup may be).
	RTO Duration `yaml:"rto" json:"rto"`
	RPO Duration `yaml:"rpo" json:"rpo"`
	// Sources are the backed-up folders the service needs restored.
	Sources []Source `yaml:"sources,omitempty" json:"sources,omitempty"`
	// Assets are other things it needs (a licence key, a VPN to the
	// treasury, a printer...), in words.
	Assets []string `yaml:"assets,omitempty" json:"assets,omitempty"`
	// DependsOn lists the IDs of services that must run before this one
	// can be restored.
	DependsOn []string `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
	// Fallback is the manual procedure while the service is down.
	Fallback string    `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	Contacts []Contact `yaml:"contacts,omitempty" json:"contacts,omitempty"`
	// HealthCheck is a shell command a restore drill runs on the restored
	// data (working directory: the drill's scratch folder, also in
	// $REMPART_DRILL_DIR), e.g. open a restored database and query it:
	// exit status 0 means the data works. Optional.
	HealthCheck string `yaml:"health_check,omitempty" json:"health_check,omitempty"`
}

// Source is a backed-up folder: the machine (the host name its agent
// enrolled with, as `rempart agent list` shows it) and the path backed up.
type Source struct {
	Host string `yaml:"host" json:"host"`
	Path string `yaml:"path" json:"path"`
}

func (s Source) String() string { return s.Host + ":" + s.Path }

// Contact is someone to call.
type Contact struct {
	Name  string `yaml:"name" json:"name"`
	Role  string `yaml:"role,omitempty" json:"role,omitempty"`
	Phone string `yaml:"phone,omitempty" json:"phone,omitempty"`
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
}

// Criticality ranks services: 1 is the most critical.
type Criticality int

// The named criticality levels.
const (
	Vital      Criticality = 1 // lives, safety or legal deadlines depend on it
	Essential  Criticality = 2 // the town cannot work without it for long
	Important  Criticality = 3 // needed, with a workaround for days
	Deferrable Criticality = 4 // can wait until the rest runs
)

var criticalityNames = [...]string{"", "vital", "essential", "important", "deferrable"}

func (c Criticality) String() string {
	if c >= Vital && c <= Deferrable {
		return criticalityNames[c]
	}
	return "criticality(" + strconv.Itoa(int(c)) + ")"
}

// ParseCriticality reads 1 to 4 or a level's name.
func ParseCriticality(s string) (Criticality, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i := Vital; i <= Deferrable; i++ {
		if s == criticalityNames[i] || s == strconv.Itoa(int(i)) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("criticality %q: use 1 (vital), 2 (essential), 3 (important) or 4 (deferrable)", s)
}

// MarshalText writes the level's name.
func (c Criticality) MarshalText() ([]byte, error) {
	if c < Vital || c > Deferrable {
		return nil, fmt.Errorf("criticality %d is not 1 to 4", int(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText reads 1 to 4 or a level's name.
func (c *Criticality) UnmarshalText(b []byte) error {
	v, err := ParseCriticality(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// UnmarshalYAML reads 1 to 4 or a level's name; errors name the line.
func (c *Criticality) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, "criticality: use 1 (vital), 2 (essential), 3 (important) or 4 (deferrable)")
	}
	v, err := ParseCriticality(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	*c = v
	return nil
}

// UnmarshalJSON accepts a number or a name.
func (c *Criticality) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int
		if json.Unmarshal(b, &n) != nil {
			return fmt.Errorf("criticality %s: use 1 to 4 or vital, essential, important, deferrable", b)
		}
		s = strconv.Itoa(n)
	}
	return c.UnmarshalText([]byte(s))
}

// Duration is a recovery objective: Go's units (h, m, s) plus d (24 h)
// and w (7 d), e.g. "4h", "30m", "2d", "1d12h".
type Duration time.Duration

// ParseDuration reads a duration such as "4h", "1d12h", "2w" or "90m".
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration: write e.g. 4h, 30m, 2d or 1w")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && unicode.IsLetter(rune(rest[j])) {
			j++
		}
		if i == 0 || j == i {
			return 0, fmt.Errorf("duration %q: write a number then a unit (w, d, h, m, s), e.g. 4h, 30m, 2d, 1d12h", in)
		}
		num, unit := rest[:i], rest[i:j]
		var d time.Duration
		switch unit {
		case "w", "d":
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n > 10000 {
				return 0, fmt.Errorf("duration %q: bad number %q", in, num)
			}
			day := 24 * time.Hour
			if unit == "w" {
				day *= 7
			}
			d = time.Duration(n * float64(day))
		case "h", "m", "s", "ms", "us", "µs", "ns":
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				return 0, fmt.Errorf("duration %q: %v", in, err)
			}
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %q: use w, d, h, m or s", in, unit)
		}
		if total+d < total {
			return 0, fmt.Errorf("duration %q is too long", in)
		}
		total += d
		rest = rest[j:]
	}
	if total > 100*365*24*time.Hour {
		return 0, fmt.Errorf("duration %q is more than 100 years", in)
	}
	return Duration(total), nil
}

// String writes the duration in the largest whole units: "1d12h", "4h",
// "1h30m", "45s".
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := v / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			v -= n * u.d
		}
	}
	if v > 0 {
		b.WriteString(v.String())
	}
	return b.String()
}

// MarshalText writes String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads ParseDuration's syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML reads ParseDuration's syntax; errors name the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, "a duration is a single value such as 4h, 30m, 2d or 1w")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	*d = v
	return nil
}

// lineError is an error yaml.v3 collects with the others of the document.
func lineError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

// idRE is the syntax of a service's ID.
var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// dateLayout is reviewed_at's.
const dateLayout = "2006-01-02"

// Limits keep a plan a plan (and the decoder's work bounded).
const (
	maxServices = 1000
	maxText     = 64 << 10
	// maxHealthCheck bounds a service's health_check command.
	maxHealthCheck = 4 << 10
)

// ValidationError lists everything wrong with a plan, one line each.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid plan: " + e.Problems[0]
	}
	return fmt.Sprintf("invalid plan (%d problems):\n  - %s", len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// Validate checks what a plan must hold to be saved. Problems that do not
// stop saving it (an unknown dependency, a cycle, a service with no backup
// source) are reported by Analyse instead, so a plan can be built in steps.
func (p *Plan) Validate() error {
	return p.validate(nil)
}

// validate names services with where(i) (e.g. their line in a file).
func (p *Plan) validate(where func(i int) string) error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if p.Format != FormatVersion {
		if p.Format == 0 {
			add("format: missing: the first line of a plan is `format: %d`", FormatVersion)
		} else {
			add("format: %d is not a plan format this rempart knows (it reads format %d): upgrade rempart", p.Format, FormatVersion)
		}
	}
	if p.ReviewedAt != "" {
		if _, err := time.Parse(dateLayout, p.ReviewedAt); err != nil {
			add("reviewed_at: %q is not a date: write it as YYYY-MM-DD (e.g. 2026-11-30)", p.ReviewedAt)
		}
	}
	if len(p.RecoveryKeysLocation) > maxText {
		add("recovery_keys_location: longer than %d bytes", maxText)
	}
	for i, c := range p.Contacts {
		if strings.TrimSpace(c.Name) == "" {
			add("contacts[%d]: name: missing", i)
		}
	}
	if len(p.Services) > maxServices {
		add("services: %d services, more than the %d a plan may hold", len(p.Services), maxServices)
	}
	seen := map[string]int{}
	for i, s := range p.Services {
		at := fmt.Sprintf("services[%d]", i)
		if s.ID != "" {
			at += " (" + s.ID + ")"
		}
		if where != nil {
			at += where(i)
		}
		switch {
		case s.ID == "":
			add("%s: id: missing: give each service a short id such as etat-civil", at)
		case !idRE.MatchString(s.ID):
			add("%s: id %q: use lower-case letters, digits, '-' and '_' (at most 63), e.g. etat-civil", at, s.ID)
		default:
			if j, dup := seen[s.ID]; dup {
				add("%s: id %q is already the id of services[%d]: each id must be unique", at, s.ID, j)
			} else {
				seen[s.ID] = i
			}
		}
		if strings.TrimSpace(s.Name) == "" {
			add("%s: name: missing", at)
		}
		if s.Criticality < Vital || s.Criticality > Deferrable {
			add("%s: criticality: missing or not 1 to 4: use 1 (vital), 2 (essential), 3 (important) or 4 (deferrable)", at)
		}
		if s.RTO <= 0 {
			add("%s: rto: must be more than 0 (how long the service may stay down, e.g. 4h)", at)
		}
		if s.RPO <= 0 {
			add("%s: rpo: must be more than 0 (how much recent data may be lost, e.g. 24h)", at)
		}
		srcs := map[Source]bool{}
		for j, src := range s.Sources {
			if strings.TrimSpace(src.Host) == "" {
				add("%s: sources[%d]: host: missing (the machine's name, as `rempart agent list` shows it)", at, j)
			}
			if strings.TrimSpace(src.Path) == "" {
				add("%s: sources[%d]: path: missing (the backed-up folder, e.g. /srv/etat-civil)", at, j)
			}
			if srcs[src] {
				add("%s: sources[%d]: %s is listed twice", at, j, src)
			}
			srcs[src] = true
		}
		deps := map[string]bool{}
		for j, d := range s.DependsOn {
			if d == "" {
				add("%s: depends_on[%d]: empty", at, j)
			}
			if deps[d] {
				add("%s: depends_on: %q is listed twice", at, d)
			}
			deps[d] = true
		}
		for j, c := range s.Contacts {
			if strings.TrimSpace(c.Name) == "" {
				add("%s: contacts[%d]: name: missing", at, j)
			}
		}
		if len(s.Fallback) > maxText {
			add("%s: fallback: longer than %d bytes", at, maxText)
		}
		if len(s.HealthCheck) > maxHealthCheck {
			add("%s: health_check: longer than %d bytes (put a long check in a script and run the script)", at, maxHealthCheck)
		} else if strings.ContainsRune(s.HealthCheck, 0) {
			add("%s: health_check: contains a NUL byte", at)
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Problems: errs}
	}
	return nil
}

// Service returns the service with that ID.
func (p *Plan) Service(id string) (Service, bool) {
	for _, s := range p.Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// ParseJSON reads a plan from JSON (the API's form), strictly: unknown
// fields are errors. It validates the plan.
func ParseJSON(b []byte) (*Plan, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("plan JSON: more than one value")
	}
	p.normalize()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// normalize makes equal plans equal in memory: Services is never nil,
// other empty lists are nil (as a file that leaves them out).
func (p *Plan) normalize() {
	if p.Services == nil {
		p.Services = []Service{}
	}
	p.Title, p.RecoveryKeysLocation = dropLeadingBlankLines(p.Title), dropLeadingBlankLines(p.RecoveryKeysLocation)
	if len(p.Contacts) == 0 {
		p.Contacts = nil
	}
	for i := range p.Services {
		s := &p.Services[i]
		s.Name, s.Owner = dropLeadingBlankLines(s.Name), dropLeadingBlankLines(s.Owner)
		s.Fallback, s.HealthCheck = dropLeadingBlankLines(s.Fallback), dropLeadingBlankLines(s.HealthCheck)
		if len(s.Sources) == 0 {
			s.Sources = nil
		}
		if len(s.Assets) == 0 {
			s.Assets = nil
		}
		if len(s.DependsOn) == 0 {
			s.DependsOn = nil
		}
		if len(s.Contacts) == 0 {
			s.Contacts = nil
		}
	}
}

// MarshalCanonical is the plan's canonical JSON: the form the server
// stores, the same bytes for the same plan.
func (p *Plan) MarshalCanonical() ([]byte, error) {
	c := *p
	if c.Services == nil {
		c.Services = []Service{}
	}
	return json.Marshal(&c)
}

// dropLeadingBlankLines removes the empty (or blank) lines a text starts
// with: they mean nothing, and a YAML block scalar that starts with one
// does not survive an export (the encoder drops it), so a plan would not
// read back as it was saved.
func dropLeadingBlankLines(s string) string {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			return s
		}
		s = s[i+1:]
	}
}
