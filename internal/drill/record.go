package drill

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rempart/rempart/internal/continuity"
)

// Results of a drill.
const (
	Passed = "passed" // restored, verified, health check ok, within the RTO
	Failed = "failed" // something could not be restored, verified or checked
	Slow   = "slow"   // everything works, but it took longer than the RTO
)

// Record is the evidence of one drill: what was restored from which
// snapshot, what was verified (and a digest of it), the health check's
// outcome, the times, the result and why, who ran it, where and when. The
// CLI prints it, the server stores it as it is given (adding who sent it).
type Record struct {
	// ID, Tenant, RecordedBy, Recorded and AlertID are set by the server.
	ID         int64     `json:"id,omitempty"`
	Tenant     string    `json:"tenant,omitempty"`
	RecordedBy string    `json:"recorded_by,omitempty"`
	Recorded   time.Time `json:"recorded,omitzero"`
	AlertID    int64     `json:"alert_id,omitempty"`

	Service     string `json:"service"`
	ServiceName string `json:"service_name,omitempty"`
	// PlanVersion is the version of the plan the service was read from
	// (0 for a plan file).
	PlanVersion int64               `json:"plan_version,omitempty"`
	RTO         continuity.Duration `json:"rto"`

	Result  string   `json:"result"` // Passed, Failed or Slow
	Reasons []string `json:"reasons,omitempty"`

	Sources []SourceResult `json:"sources"`
	Files   uint64         `json:"files"`   // files verified, every source
	Dirs    uint64         `json:"dirs"`    // folders restored
	Bytes   uint64         `json:"bytes"`   // bytes verified
	Damaged int            `json:"damaged"` // files not restored intact
	// Digest is the SHA-256 of the list of verified files ("SHA-256 of
	// the content, size, host:path" per line, sorted by path): two drills
	// of the same snapshot give the same digest.
	Digest string `json:"digest,omitempty"`

	// Seconds spent restoring (every source), verifying, in the health
	// check; RecoverySeconds = restore + health check, compared with the
	// RTO (verifying is the drill's own work).
	RestoreSeconds  float64 `json:"restore_seconds"`
	VerifySeconds   float64 `json:"verify_seconds"`
	HealthSeconds   float64 `json:"health_seconds"`
	RecoverySeconds float64 `json:"recovery_seconds"`

	Health *HealthResult `json:"health_check,omitempty"`

	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// RanBy is who ran it as the machine says (user@host); the server
	// adds RecordedBy, the credentials that sent it.
	RanBy   string `json:"ran_by"`
	Host    string `json:"host"`              // the machine the drill ran on
	Scratch string `json:"scratch,omitempty"` // where it restored
	Kept    bool   `json:"kept,omitempty"`    // the scratch folder was kept
	Program string `json:"program,omitempty"` // rempart's version
}

// SourceResult is what a drill did with one source of the service.
type SourceResult struct {
	Host string `json:"host"`
	Path string `json:"path"`
	// Snapshot is the ID of the snapshot restored ("" when none was
	// found), SnapshotTime when it was made, SnapshotHost the host it
	// names.
	Snapshot     string    `json:"snapshot,omitempty"`
	SnapshotTime time.Time `json:"snapshot_time,omitzero"`
	SnapshotHost string    `json:"snapshot_host,omitempty"`
	// Skipped are newer snapshots of the source that Sentinel flagged
	// suspect or infected: a recovery would not use them either.
	Skipped []string `json:"skipped,omitempty"`
	// Target is where it was restored, under the scratch folder.
	Target         string  `json:"target,omitempty"`
	Files          uint64  `json:"files"`
	Dirs           uint64  `json:"dirs"`
	Bytes          uint64  `json:"bytes"`
	Digest         string  `json:"digest,omitempty"`
	RestoreSeconds float64 `json:"restore_seconds"`
	VerifySeconds  float64 `json:"verify_seconds"`
	// Damaged lists the files not restored intact (at most MaxDamaged;
	// DamagedCount counts them all).
	Damaged      []Damage `json:"damaged,omitempty"`
	DamagedCount int      `json:"damaged_count,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// Damage is a file of a snapshot that did not come back intact.
type Damage struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// HealthResult is the outcome of the health check.
type HealthResult struct {
	Command  string  `json:"command"`
	Ran      bool    `json:"ran"`
	ExitCode int     `json:"exit_code"`
	TimedOut bool    `json:"timed_out,omitempty"`
	Seconds  float64 `json:"seconds"`
	// Output is the last lines the command wrote (stdout and stderr).
	Output string `json:"output,omitempty"`
	// Error says why it did not run or could not finish.
	Error string `json:"error,omitempty"`
}

// OK reports whether the health check ran and exited 0.
func (h *HealthResult) OK() bool {
	return h != nil && h.Ran && h.ExitCode == 0 && !h.TimedOut && h.Error == ""
}

// Limits of a record (a server stores it).
const (
	MaxDamaged     = 100
	maxReasons     = 200
	maxRecordBytes = 1 << 20
	maxText        = 4096
)

var serviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Check tells whether a record is well formed (a server's check of what
// it is sent: it cannot redo the drill).
func (r *Record) Check() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !serviceRE.MatchString(r.Service) {
		add("service %q is not a service ID of a plan", r.Service)
	}
	switch r.Result {
	case Passed, Failed, Slow:
	default:
		add("result %q: use passed, failed or slow", r.Result)
	}
	if r.Result == Passed && r.Damaged > 0 {
		add("a passed drill has no damaged file")
	}
	if r.Result != Passed && len(r.Reasons) == 0 {
		add("a %s drill says why in reasons", r.Result)
	}
	if r.Started.IsZero() || r.Finished.Before(r.Started) {
		add("started and finished are required, finished not before started")
	}
	if len(r.Reasons) > maxReasons || len(r.Sources) > 1000 {
		add("too many reasons or sources")
	}
	for _, s := range []string{r.ServiceName, r.RanBy, r.Host, r.Scratch, r.Program, r.Digest} {
		if len(s) > maxText || !utf8.ValidString(s) {
			add("a text field is longer than %d bytes or not UTF-8", maxText)
			break
		}
	}
	for _, n := range []float64{r.RestoreSeconds, r.VerifySeconds, r.HealthSeconds, r.RecoverySeconds} {
		if n < 0 || n != n {
			add("durations are not negative")
			break
		}
	}
	if len(errs) > 0 {
		return errors.New("invalid drill record: " + strings.Join(errs, "; "))
	}
	if b, err := json.Marshal(r); err != nil || len(b) > maxRecordBytes {
		return fmt.Errorf("invalid drill record: larger than %d bytes", maxRecordBytes)
	}
	return nil
}

// Summary is the record in one line: "failed: 2 files damaged (...)".
func (r *Record) Summary() string {
	s := fmt.Sprintf("drill of %s %s", r.Service, r.Result)
	if len(r.Reasons) > 0 {
		s += ": " + strings.Join(r.Reasons, "; ")
	}
	if len(s) > 1000 {
		s = s[:997] + "..."
	}
	return s
}
