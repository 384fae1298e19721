package evidence

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"
)

// CSVHeader names the columns of the CSV export, one row per service.
// Dates are RFC 3339 in UTC, durations in the plan's notation (4h, 2d),
// restore times in seconds.
var CSVHeader = []string{
	"tenant", "period_from", "period_to", "generated",
	"plan_version", "plan_saved", "plan_reviewed_at", "plan_reviewed_by", "plan_versions_in_period", "plan_errors", "plan_warnings",
	"service", "service_name", "recovery_position", "criticality", "rto", "rpo",
	"sources", "backup_status", "oldest_latest_backup", "backup_measured_at",
	"drills", "drills_passed", "drills_failed", "drills_slow",
	"last_drill", "last_drill_result", "last_restore_seconds", "last_restore_vs_rto", "last_passed_drill", "last_drill_digest", "last_drill_evidence_sha256",
	"sentinel_alerts", "sentinel_alerts_closed", "drill_alerts", "drill_alerts_closed",
	"lock_days", "storage_immutable", "retention_frozen", "crisis_rooms",
}

// CSV renders reports as one CSV file (UTF-8, RFC 4180: a header row,
// CRLF line ends, fields quoted when needed): one row per service of each
// report; a tenant without a plan has one row with no service.
func CSV(reports ...*Report) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(CSVHeader); err != nil {
		return nil, err
	}
	for _, r := range reports {
		for _, row := range r.rows() {
			if len(row) != len(CSVHeader) {
				return nil, fmt.Errorf("evidence: CSV row of %d columns", len(row))
			}
			for i := range row {
				row[i] = defuseFormula(row[i])
			}
			if err := w.Write(row); err != nil {
				return nil, err
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("evidence: CSV: %w", err)
	}
	return buf.Bytes(), nil
}

// defuseFormula keeps a spreadsheet from running a cell as a formula: text
// that comes from a plan (a service's name, a reviewer) and starts with =,
// +, -, @, a tab or a carriage return gets a leading apostrophe, which
// spreadsheets show as text (the OWASP advice for CSV exports). Numbers,
// negative ones included, are left as they are.
func defuseFormula(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + v
	case '-':
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (r *Report) rows() [][]string {
	itoa := strconv.Itoa
	head := []string{r.Tenant, csvTime(r.From), csvTime(r.To), csvTime(r.Generated)}
	plan := make([]string, 7)
	if p := r.Plan; p != nil {
		plan = []string{strconv.FormatInt(p.Current.Version, 10), csvTime(p.Current.Saved), p.Current.ReviewedAt, p.Current.ReviewedBy,
			itoa(len(p.InPeriod)), itoa(p.Errors), itoa(p.Warnings)}
	}
	tail := []string{itoa(r.Retention.LockDays), strconv.FormatBool(r.Retention.Immutable), strconv.FormatBool(r.Retention.Frozen), itoa(r.CrisisRooms)}
	row := func(svc []string) []string {
		out := append(append(append([]string{}, head...), plan...), svc...)
		return append(out, tail...)
	}
	if len(r.Services) == 0 {
		a := r.OtherAlerts
		svc := make([]string, 21)
		svc[7] = "no_plan"
		if r.Plan != nil {
			svc[7] = "no_service"
		}
		svc = append(svc, itoa(a.Sentinel), itoa(a.SentinelClosed), itoa(a.Drill), itoa(a.DrillClosed))
		return [][]string{row(svc)}
	}
	var out [][]string
	for _, s := range r.Services {
		pos := ""
		if s.Position > 0 {
			pos = itoa(s.Position)
		}
		svc := []string{s.ID, s.Name, pos, s.Criticality.String(), s.RTO.String(), s.RPO.String(),
			s.SourceList(), s.Backup, csvTime(s.Oldest), csvTime(r.Plan.At),
			itoa(s.Drills.Count), itoa(s.Drills.Passed), itoa(s.Drills.Failed), itoa(s.Drills.Slow)}
		if d := s.Drills.Last; d != nil {
			svc = append(svc, csvTime(d.Started), d.Result, strconv.FormatFloat(d.RecoverySeconds, 'f', 1, 64), Restore(d, s.RTO),
				csvTime(s.Drills.LastPassed), d.Digest, d.SHA256)
		} else {
			svc = append(svc, "", "", "", "", csvTime(s.Drills.LastPassed), "", "")
		}
		a := s.Alerts
		svc = append(svc, itoa(a.Sentinel), itoa(a.SentinelClosed), itoa(a.Drill), itoa(a.DrillClosed))
		out = append(out, row(svc))
	}
	return out
}
