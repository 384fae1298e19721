// Package evidence computes and renders the NIS2 evidence report an
// auditor reads (docs/evidence.md): for one tenant and a period, per
// service of the current continuity plan, its objectives (RTO, RPO), its
// backup sources with their latest backup and its age against the RPO,
// the restore drills of the period (results, restore time against the
// RTO, evidence digests) and the alerts of the period; the plan's versions
// and review; the retention and immutability settings; and a summary line
// per item of NIS2 art. 21(2)(c). It states facts with their dates and
// makes no compliance claim.
//
// The package is pure: the server gathers the facts (Input) and Build
// computes the report, which renders as PDF (in the runbook's page frame)
// or CSV. It never touches the server, the vault or the network.
package evidence

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

// Drill results, as recorded (internal/drill, the store).
const (
	DrillPassed = "passed"
	DrillFailed = "failed"
	DrillSlow   = "slow"
)

// Kinds of alerts, as recorded.
const (
	AlertSentinel = "sentinel"
	AlertDrill    = "drill"
)

// PlanVersion is a saved version of the plan.
type PlanVersion struct {
	Version    int64
	Saved      time.Time
	SavedBy    string
	Note       string
	ReviewedAt string // the plan's own review fields
	ReviewedBy string
}

// Drill is a recorded restore drill.
type Drill struct {
	ID      int64
	Service string
	Result  string // DrillPassed, DrillFailed or DrillSlow
	Started time.Time
	// RecoverySeconds is the time to restore (and health-check) the
	// service's data, compared with the RTO; RTO is the objective the
	// drill was run against.
	RecoverySeconds float64
	RTO             continuity.Duration
	// Digest is the drill's digest of the verified files; SHA256 the
	// SHA-256 of its stored evidence record.
	Digest string
	SHA256 string
	RanBy  string
	Host   string
}

// Alert is a Sentinel alert (on a machine's snapshot) or a drill alert
// (on a service's drill).
type Alert struct {
	ID      int64
	Kind    string    // AlertSentinel or AlertDrill
	Host    string    // Sentinel: the machine whose snapshot was flagged
	Service string    // drill: the service drilled
	Opened  time.Time // when opened
	Closed  time.Time // zero while open
}

// Retention is how the tenant's backups are kept.
type Retention struct {
	Policy string // the retention policy in words ("" when none)
	// LockDays is how long a snapshot cannot be removed after it was
	// written (0: no lock beyond append-only).
	LockDays int
	// Immutable: the storage enforces the lock itself (object lock).
	Immutable bool
	// Frozen: an open Sentinel alert stops retention from expiring
	// anything.
	Frozen bool
}

// Input is what the server knows about a tenant.
type Input struct {
	Tenant string
	// From and To bound the period; Generated is the report's date.
	From, To, Generated time.Time
	// Plan is the current version of the plan (nil: none); Current its
	// version; Versions every saved version (any order).
	Plan     *continuity.Plan
	Current  PlanVersion
	Versions []PlanVersion
	// Analysis is the recovery order, measured against the latest clean
	// snapshot of each machine at the end of the period (nil: computed
	// here without snapshots).
	Analysis *continuity.Analysis
	// Drills and Alerts are all the tenant's (Build keeps those of the
	// period).
	Drills []Drill
	Alerts []Alert
	// Rooms are the opening times of the tenant's crisis rooms (counted,
	// never read).
	Rooms     []time.Time
	Retention Retention
	// Schedule is the tenant's drill schedule (nil: none).
	Schedule *Schedule
}

// Schedule is a tenant's drill schedule: every service of the plan is
// drilled every EveryDays days at At (TimeZone), next at Next.
type Schedule struct {
	EveryDays int
	At        string
	TimeZone  string
	Next      time.Time
}

// Report is the evidence for one tenant over a period.
type Report struct {
	Tenant    string
	From, To  time.Time
	Generated time.Time
	// Plan is nil when the tenant has no plan.
	Plan      *Plan
	Services  []Service
	Retention Retention
	Schedule  *Schedule // the drill schedule when the report was made (nil: none)
	// CrisisRooms is the number of crisis rooms opened in the period.
	CrisisRooms int
	// OtherAlerts are the alerts of the period that concern no service
	// of the plan (machines or services it does not name; every alert
	// when there is no plan).
	OtherAlerts AlertCount
	Summary     Summary
}

// Plan is what the report says about the plan.
type Plan struct {
	Title   string
	Current PlanVersion
	// InPeriod are the versions saved in the period, newest first.
	InPeriod []PlanVersion
	// Waves is the number of waves of the recovery order; Unordered the
	// services it cannot place (dependency cycles).
	Waves     int
	Unordered []string
	Problems  []continuity.Problem
	Errors    int
	Warnings  int
	// At is when backups were measured (the end of the period, or now).
	At time.Time
}

// Service is one service of the current plan and its evidence.
type Service struct {
	ID, Name    string
	Position    int // in the recovery order (0: not placed)
	Criticality continuity.Criticality
	RTO, RPO    continuity.Duration
	Sources     []Source
	// Backup is the worst status of its sources: ok, stale, missing, or
	// none (the service names no source).
	Backup string
	// Oldest is the oldest of its sources' latest backups (zero if one
	// has none).
	Oldest time.Time
	Drills Drills
	Alerts AlertCount
}

// Source is a backed-up folder and its latest clean backup.
type Source struct {
	Host, Path string
	Latest     time.Time
	Age        continuity.Duration
	Status     string // ok, stale (older than the RPO) or missing
}

// Drills are a service's drills of the period.
type Drills struct {
	Count, Passed, Failed, Slow int
	// List holds them, newest first.
	List []Drill
	// Last is the newest drill of the period (nil: none).
	Last *Drill
	// LastPassed is when the newest passed drill up to the end of the
	// period started (zero: none), possibly before the period.
	LastPassed time.Time
}

// Restore compares a drill's restore time with an RTO: "within", "over",
// or "" when there is no drill or no objective.
func Restore(d *Drill, rto continuity.Duration) string {
	if d == nil || rto <= 0 {
		return ""
	}
	if time.Duration(d.RecoverySeconds*float64(time.Second)) <= time.Duration(rto) {
		return "within"
	}
	return "over"
}

// AlertCount counts alerts of the period: those open at some time in it.
// Closed are those closed by its end; the others were still open then.
type AlertCount struct {
	Sentinel, SentinelClosed int
	Drill, DrillClosed       int
}

// Total is the number of alerts.
func (a AlertCount) Total() int { return a.Sentinel + a.Drill }

// Open is the number of alerts still open at the end of the period.
func (a AlertCount) Open() int { return a.Sentinel - a.SentinelClosed + a.Drill - a.DrillClosed }

// Summary is the report's summary, per item of NIS2 art. 21(2)(c):
// counts and dates only.
type Summary struct {
	// Backup management.
	Sources, SourcesOK, SourcesStale, SourcesMissing int
	ServicesWithoutSource                            int
	// Restore tests documented.
	Services, ServicesDrilled                int
	Drills, DrillsPassed, DrillsFailed, Slow int
	RestoresWithinRTO, RestoresOverRTO       int // of each service's last drill
	// Continuity plan with recovery order: see Report.Plan.
	VersionsInPeriod int
	// Crisis management: Report.CrisisRooms.
}

// in reports whether t is in [from, to].
func in(t, from, to time.Time) bool { return !t.Before(from) && !t.After(to) }

// Build computes the report.
func Build(in Input) (*Report, error) {
	if in.To.Before(in.From) {
		return nil, fmt.Errorf("evidence: the period ends (%s) before it starts (%s)", in.To.Format(time.DateOnly), in.From.Format(time.DateOnly))
	}
	r := &Report{Tenant: in.Tenant, From: in.From, To: in.To, Generated: in.Generated, Retention: in.Retention, Schedule: in.Schedule}
	if r.Generated.IsZero() {
		r.Generated = time.Now()
	}
	for _, t := range in.Rooms {
		if inPeriod(t, in) {
			r.CrisisRooms++
		}
	}
	if in.Plan == nil {
		r.OtherAlerts = countAlerts(in, func(Alert) bool { return true })
		return r, nil
	}
	an := in.Analysis
	if an == nil {
		an = continuity.Analyse(in.Plan, nil, minTime(in.To, r.Generated))
	}
	p := &Plan{Title: in.Plan.Title, Current: in.Current, Waves: len(an.Waves), Unordered: an.Unordered,
		Problems: an.Problems, Errors: an.Errors(), At: an.At}
	p.Warnings = len(p.Problems) - p.Errors
	p.Current.ReviewedAt, p.Current.ReviewedBy = in.Plan.ReviewedAt, in.Plan.ReviewedBy
	for _, v := range in.Versions {
		if inPeriod(v.Saved, in) {
			p.InPeriod = append(p.InPeriod, v)
		}
	}
	sort.Slice(p.InPeriod, func(i, j int) bool { return p.InPeriod[i].Version > p.InPeriod[j].Version })
	r.Plan = p
	r.Summary.VersionsInPeriod = len(p.InPeriod)

	position := map[string]int{}
	for _, w := range an.Waves {
		for _, st := range w.Services {
			position[st.ID] = st.Position
		}
	}
	drills := append([]Drill(nil), in.Drills...)
	sort.SliceStable(drills, func(i, j int) bool {
		if !drills[i].Started.Equal(drills[j].Started) {
			return drills[i].Started.After(drills[j].Started)
		}
		return drills[i].ID > drills[j].ID
	})
	hosts := map[string]bool{} // the machines the plan names
	for _, sv := range in.Plan.Services {
		s := Service{ID: sv.ID, Name: sv.Name, Position: position[sv.ID], Criticality: sv.Criticality, RTO: sv.RTO, RPO: sv.RPO}
		s.Backup = "none"
		if len(sv.Sources) > 0 {
			s.Backup = "ok"
		}
		svHosts := map[string]bool{}
		for _, src := range sv.Sources {
			hosts[src.Host], svHosts[src.Host] = true, true
			out := Source{Host: src.Host, Path: src.Path, Status: "missing"}
			for _, st := range an.Sources {
				if st.Service == sv.ID && st.Source == src {
					out.Latest, out.Age, out.Status = st.Latest, st.Age, st.Status
					break
				}
			}
			switch out.Status {
			case "missing":
				s.Backup = "missing"
				r.Summary.SourcesMissing++
			case "stale":
				if s.Backup == "ok" {
					s.Backup = "stale"
				}
				r.Summary.SourcesStale++
			default:
				r.Summary.SourcesOK++
			}
			r.Summary.Sources++
			s.Sources = append(s.Sources, out)
		}
		if s.Backup == "ok" || s.Backup == "stale" {
			for _, src := range s.Sources {
				if s.Oldest.IsZero() || src.Latest.Before(s.Oldest) {
					s.Oldest = src.Latest
				}
			}
		}
		if len(sv.Sources) == 0 {
			r.Summary.ServicesWithoutSource++
		}
		for i := range drills {
			d := drills[i]
			if d.Service != sv.ID || d.Started.After(in.To) {
				continue
			}
			if d.Result == DrillPassed && s.Drills.LastPassed.IsZero() {
				s.Drills.LastPassed = d.Started
			}
			if d.Started.Before(in.From) {
				continue
			}
			s.Drills.Count++
			switch d.Result {
			case DrillPassed:
				s.Drills.Passed++
			case DrillFailed:
				s.Drills.Failed++
			case DrillSlow:
				s.Drills.Slow++
			}
			s.Drills.List = append(s.Drills.List, d)
		}
		if len(s.Drills.List) > 0 {
			s.Drills.Last = &s.Drills.List[0]
			r.Summary.ServicesDrilled++
			switch Restore(s.Drills.Last, s.RTO) {
			case "within":
				r.Summary.RestoresWithinRTO++
			case "over":
				r.Summary.RestoresOverRTO++
			}
		}
		r.Summary.Drills += s.Drills.Count
		r.Summary.DrillsPassed += s.Drills.Passed
		r.Summary.DrillsFailed += s.Drills.Failed
		r.Summary.Slow += s.Drills.Slow
		id := sv.ID
		s.Alerts = countAlerts(in, func(a Alert) bool {
			return (a.Kind == AlertDrill && a.Service == id) || (a.Kind == AlertSentinel && svHosts[a.Host])
		})
		r.Services = append(r.Services, s)
	}
	r.Summary.Services = len(r.Services)
	r.OtherAlerts = countAlerts(in, func(a Alert) bool {
		if a.Kind == AlertSentinel {
			return !hosts[a.Host]
		}
		_, ok := in.Plan.Service(a.Service)
		return !ok
	})
	return r, nil
}

// inPeriod reports whether t is in the period of in.
func inPeriod(t time.Time, i Input) bool { return in(t, i.From, i.To) }

// countAlerts counts the alerts of the period that keep says are wanted:
// those opened by its end and not closed before its start.
func countAlerts(i Input, keep func(Alert) bool) AlertCount {
	var c AlertCount
	for _, a := range i.Alerts {
		if a.Opened.After(i.To) || (!a.Closed.IsZero() && a.Closed.Before(i.From)) || !keep(a) {
			continue
		}
		closed := !a.Closed.IsZero() && !a.Closed.After(i.To)
		switch a.Kind {
		case AlertSentinel:
			c.Sentinel++
			if closed {
				c.SentinelClosed++
			}
		case AlertDrill:
			c.Drill++
			if closed {
				c.DrillClosed++
			}
		}
	}
	return c
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SourceList lists a service's sources as host:path, separated by "; ".
func (s Service) SourceList() string {
	out := make([]string, len(s.Sources))
	for i, src := range s.Sources {
		out[i] = src.Host + ":" + src.Path
	}
	return strings.Join(out, "; ")
}
