package evidence

import (
	"fmt"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/runbook"
)

// PDF renders a report in the runbook's page frame (every page: the town,
// the period, the generation date, page N / M), in French ("fr", the
// default) or English ("en"); dates in loc (nil: time.Local).
func PDF(r *Report, lang string, loc *time.Location) ([]byte, error) {
	lang, err := runbook.ParseLang(lang)
	if err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.Local
	}
	t := texts[lang]
	day := func(x time.Time) string { return x.In(loc).Format("2006-01-02") }
	stamp := func(x time.Time) string { return x.In(loc).Format("2006-01-02 15:04 MST") }
	orNone := func(x time.Time, f func(time.Time) string) string {
		if x.IsZero() {
			return t.none
		}
		return f(x)
	}
	period := fmt.Sprintf(t.periodFmt, day(r.From), day(r.To))
	pr := runbook.NewPrinter(runbook.Frame{Lang: lang, Title: t.title + " - " + r.Tenant + " - " + period,
		Town: r.Tenant, Label: period, Generated: stamp(r.Generated)})

	pr.Title(t.title, r.Tenant)
	pr.Pairs([][2]string{{t.tenant, r.Tenant}, {t.period, day(r.From) + " → " + day(r.To)}, {t.generated, stamp(r.Generated)}})
	pr.Note(t.scope)

	// The summary, per item of art. 21(2)(c).
	pr.Heading(t.summary)
	pr.Para(t.summaryIntro)
	s := r.Summary
	var rows [][]string
	backup := fmt.Sprintf(t.sumBackup, s.Sources, s.SourcesOK, s.SourcesStale, s.SourcesMissing)
	if r.Plan != nil {
		backup += " " + fmt.Sprintf(t.measuredAt, stamp(r.Plan.At))
	}
	if s.ServicesWithoutSource > 0 {
		backup += " " + fmt.Sprintf(t.sumNoSource, s.ServicesWithoutSource)
	}
	backup += " " + retentionLine(t, r.Retention)
	rows = append(rows, []string{t.itemBackup, backup})
	drills := fmt.Sprintf(t.sumDrills, s.Drills, s.DrillsPassed, s.DrillsFailed, s.Slow, s.ServicesDrilled, s.Services, s.RestoresWithinRTO, s.RestoresOverRTO)
	if sc := r.Schedule; sc != nil {
		drills += " " + fmt.Sprintf(t.sumSchedule, sc.EveryDays, sc.At, sc.TimeZone, stamp(sc.Next))
	} else {
		drills += " " + t.noSchedule
	}
	rows = append(rows, []string{t.itemDrills, drills})
	plan := t.noPlan
	if p := r.Plan; p != nil {
		reviewed := t.notRecorded
		if p.Current.ReviewedAt != "" {
			reviewed = p.Current.ReviewedAt
			if p.Current.ReviewedBy != "" {
				reviewed += " (" + p.Current.ReviewedBy + ")"
			}
		}
		plan = fmt.Sprintf(t.sumPlan, p.Current.Version, stamp(p.Current.Saved), p.Current.SavedBy, reviewed, s.VersionsInPeriod,
			p.Waves, len(p.Unordered), p.Errors, p.Warnings)
	}
	rows = append(rows, []string{t.itemPlan, plan})
	rows = append(rows, []string{t.itemCrisis, fmt.Sprintf(t.sumCrisis, r.CrisisRooms)})
	pr.Table([]string{t.item, t.evidence}, rows, []float64{30, 70})

	// The services.
	pr.Heading(t.services)
	if len(r.Services) == 0 {
		if r.Plan == nil {
			pr.Alert(t.noPlan, true)
		} else {
			pr.Alert(t.noService, true)
		}
	} else {
		rows = nil
		for _, sv := range r.Services {
			last, vs := t.none, ""
			if d := sv.Drills.Last; d != nil {
				last = day(d.Started) + " " + t.result[d.Result]
				vs = seconds(d.RecoverySeconds) + " / " + sv.RTO.String() + t.colon + t.vs[Restore(d, sv.RTO)]
			}
			pos := "-"
			if sv.Position > 0 {
				pos = fmt.Sprint(sv.Position)
			}
			rows = append(rows, []string{pos, sv.Name + " (" + sv.ID + ")", sv.RTO.String() + " / " + sv.RPO.String(),
				t.backup[sv.Backup] + "\n" + orNone(sv.Oldest, day), fmt.Sprint(sv.Drills.Count), last, vs,
				orNone(sv.Drills.LastPassed, day), fmt.Sprintf("%d / %d", sv.Alerts.Total(), sv.Alerts.Open())})
		}
		pr.Table(t.serviceHead, rows, []float64{8, 28, 16, 24, 13, 21, 28, 21, 15})
		pr.Para(t.serviceNotes)
		for _, sv := range r.Services {
			pr.Sub(sv.Name + " (" + sv.ID + ")")
			pairs := [][2]string{
				{t.objectives, fmt.Sprintf("RTO %s, RPO %s, %s", sv.RTO, sv.RPO, t.crit(sv.Criticality))},
			}
			if len(sv.Sources) == 0 {
				pairs = append(pairs, [2]string{t.sources, t.noSourceOne})
			}
			for _, src := range sv.Sources {
				v := t.backup[src.Status]
				if !src.Latest.IsZero() {
					v = fmt.Sprintf(t.latestFmt, stamp(src.Latest), src.Age, sv.RPO, t.backup[src.Status])
				}
				pairs = append(pairs, [2]string{src.Host + ":" + src.Path, v})
			}
			pairs = append(pairs, [2]string{t.drillsLabel, fmt.Sprintf(t.drillCount, sv.Drills.Count, sv.Drills.Passed, sv.Drills.Failed, sv.Drills.Slow)},
				[2]string{t.lastPassed, orNone(sv.Drills.LastPassed, stamp)},
				[2]string{t.alertsLabel, fmt.Sprintf(t.alertCount, sv.Alerts.Sentinel, sv.Alerts.SentinelClosed, sv.Alerts.Drill, sv.Alerts.DrillClosed)})
			pr.Pairs(pairs)
			if len(sv.Drills.List) > 0 {
				rows = nil
				for _, d := range sv.Drills.List {
					digest := d.Digest
					if digest == "" {
						digest = "-"
					}
					rows = append(rows, []string{stamp(d.Started), t.result[d.Result],
						seconds(d.RecoverySeconds) + " / " + sv.RTO.String() + t.colon + t.vs[Restore(&d, sv.RTO)],
						d.RanBy, "sha256:" + short(d.SHA256) + "\n" + short(digest)})
				}
				pr.Table(t.drillHead, rows, []float64{24, 12, 26, 18, 20})
			}
		}
	}
	if a := r.OtherAlerts; a.Total() > 0 {
		pr.Sub(t.otherAlerts)
		pr.Para(fmt.Sprintf(t.alertCount, a.Sentinel, a.SentinelClosed, a.Drill, a.DrillClosed))
	}

	// The plan.
	pr.Heading(t.planTitle)
	if p := r.Plan; p == nil {
		pr.Alert(t.noPlan, true)
	} else {
		reviewed := t.notRecorded
		if p.Current.ReviewedAt != "" {
			reviewed = p.Current.ReviewedAt
		}
		pairs := [][2]string{
			{t.currentVersion, fmt.Sprintf(t.versionFmt, p.Current.Version, stamp(p.Current.Saved), p.Current.SavedBy)},
			{t.reviewedAt, reviewed},
			{t.reviewedBy, orText(p.Current.ReviewedBy, t.notRecorded)},
			{t.order, fmt.Sprintf(t.orderFmt, p.Waves, len(p.Unordered))},
		}
		if p.Title != "" {
			pairs = append([][2]string{{t.planName, p.Title}}, pairs...)
		}
		pr.Pairs(pairs)
		pr.Sub(fmt.Sprintf(t.versionsInPeriod, len(p.InPeriod)))
		if len(p.InPeriod) == 0 {
			pr.Para(t.noVersion)
		} else {
			rows = nil
			for _, v := range p.InPeriod {
				rows = append(rows, []string{fmt.Sprint(v.Version), stamp(v.Saved), v.SavedBy, orText(v.ReviewedAt, "-"), v.Note})
			}
			pr.Table(t.versionHead, rows, []float64{10, 24, 22, 14, 30})
		}
		pr.Sub(fmt.Sprintf(t.problemsFmt, p.Errors, p.Warnings))
		if len(p.Problems) == 0 {
			pr.Para(t.noProblem)
		} else {
			items := make([]string, len(p.Problems))
			for i, pb := range p.Problems {
				items[i] = t.severity[pb.Severity] + t.colon + pb.Message
			}
			pr.Bullets(items)
		}
	}

	// Retention and immutability.
	pr.Heading(t.retention)
	pol := orText(r.Retention.Policy, t.notRecorded)
	pr.Pairs([][2]string{
		{t.policy, pol},
		{t.lock, fmt.Sprintf(t.lockFmt, r.Retention.LockDays)},
		{t.immutable, t.yesNo(r.Retention.Immutable)},
		{t.frozen, t.yesNo(r.Retention.Frozen)},
	})
	pr.Para(t.retentionNote)
	return pr.PDF()
}

func retentionLine(t *text, r Retention) string {
	return fmt.Sprintf(t.sumRetention, r.LockDays, t.yesNo(r.Immutable))
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// seconds prints a restore time.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1f s", s)
	}
	return continuity.Duration(d.Round(time.Second)).String()
}

// short keeps the start of a hex digest (the CSV has it whole).
func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func (t *text) yesNo(b bool) string {
	if b {
		return t.yes
	}
	return t.no
}

func (t *text) crit(c continuity.Criticality) string {
	if c >= continuity.Vital && c <= continuity.Deferrable {
		return t.crits[c]
	}
	return c.String()
}

// RestoreWords are the words a language prints for a restore within or
// over the RTO (for callers that check the rendered text).
func RestoreWords(lang string) (within, over string) {
	t := texts["fr"]
	if strings.HasPrefix(lang, "en") {
		t = texts["en"]
	}
	return t.vs["within"], t.vs["over"]
}
