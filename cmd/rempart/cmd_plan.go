package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/continuity"
)

// planOut mirrors the server's plan versions (internal/server/plan_api.go).
type planOut struct {
	Tenant     string           `json:"tenant"`
	Version    int64            `json:"version"`
	Created    time.Time        `json:"created"`
	CreatedBy  string           `json:"created_by"`
	Note       string           `json:"note,omitempty"`
	SHA256     string           `json:"sha256"`
	Services   int              `json:"services"`
	ReviewedAt string           `json:"reviewed_at,omitempty"`
	ReviewedBy string           `json:"reviewed_by,omitempty"`
	Plan       *continuity.Plan `json:"plan,omitempty"`
	YAML       string           `json:"yaml,omitempty"`
	Changes    *continuity.Diff `json:"changes,omitempty"`
	Unchanged  bool             `json:"unchanged,omitempty"`
}

// planOrderOut mirrors GET /v1/tenants/{t}/plan/order.
type planOrderOut struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	continuity.Analysis
}

// planTenant is --tenant, or the tenant of the signed-in account.
var planTenant string

func newPlan() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "The continuity plan: services, recovery objectives, recovery order",
		Long: `The continuity plan says, for each public service of a town (civil registry,
payroll, drinking water, website...), how critical it is, how long it may stay
down (RTO), how much recent data it may lose (RPO), which backed-up folders
(host and path) and other assets it needs, which services must run before it,
and what people do by hand while it is down.

It is a YAML file that you keep, review and apply to the server. The server
keeps every version (who, when, what changed; all in the audit trail) and
computes the recovery order: in waves of services that can be restored in
parallel, each after the services it depends on, the most critical first.
It flags what would stop a recovery: dependency cycles, unknown
dependencies, services with no backup source, and sources whose latest
backup is missing or older than the service's RPO.

Start from the full example of a small town (seven services, explained in
docs/continuity.md): save it, change the services, hosts and paths, then
check and apply it:
  rempart plan example > plan.yaml            # the example, to edit
  rempart plan apply -f plan.yaml --dry-run   # what would change
  rempart plan apply -f plan.yaml             # save a new version
  rempart plan order                          # the recovery order, problems

Operators and the tenant's admin may apply; auditors (and the tenant's
coordinators) may read. A tenant admin may leave out --tenant.`,
		Example: `  rempart plan apply -f plan.yaml --tenant mairie-a --note "reviewed with the DGS"
  rempart plan order --tenant mairie-a
  rempart plan export --tenant mairie-a -o plan.yaml
  rempart plan history --tenant mairie-a`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.PersistentFlags().StringVar(&planTenant, "tenant", "", "the tenant (town) whose plan it is (default: your account's tenant)")
	cmd.AddCommand(newPlanExample(), newPlanApply(), newPlanExport(), newPlanOrder(), newPlanHistory())
	return cmd
}

func newPlanExample() *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print the full plan of a small town, to start yours from",
		Long: `Print the continuity plan of a small town (directory, civil registry,
payroll, drinking water, website, e-mail, file server), with every field of
the format used and commented in docs/continuity.md. It needs no server.`,
		Example: `  rempart plan example > plan.yaml
  rempart plan apply -f plan.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := os.Stdout.Write(continuity.Example)
			return err
		},
	}
}

// planPath is the API path of the tenant's plan.
func planPath(suffix string) (string, string, error) {
	t := planTenant
	if t == "" {
		_, sv, err := adminServer()
		if err != nil {
			return "", "", err
		}
		if t = sv.Admin.Tenant; t == "" {
			return "", "", usagef("say whose plan with --tenant NAME (your account is not tied to one tenant; see `rempart tenant list`)")
		}
	}
	return t, "/v1/tenants/" + url.PathEscape(t) + "/plan" + suffix, nil
}

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func newPlanApply() *cobra.Command {
	var file, note string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--tenant NAME] [--note TEXT] [--dry-run]",
		Short: "Check a plan file, show what it changes, and save it as a new version",
		Long: `Read the plan file (- for standard input), check it (every problem with its
line), compare it with the plan saved on the server, show which services are
added, changed (with the fields) and removed, and the problems of its recovery
order; then save it as a new version. --dry-run stops before saving.

If someone saved another version in the meantime, nothing is saved: run the
command again to see the changes against the new version. The format is in
docs/continuity.md.`,
		Example: `  rempart plan apply -f plan.yaml --dry-run
  rempart plan apply -f plan.yaml --tenant mairie-a --note "new water supervision server"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef("give the plan file with -f FILE (start from `rempart plan example > plan.yaml`)")
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(io.LimitReader(os.Stdin, continuity.MaxFileSize+1))
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("cannot read the plan: %w", err)
			}
			p, err := continuity.Decode(data)
			if err != nil {
				return fmt.Errorf("%s: %w\nFix the file and run the command again; nothing was sent", file, err)
			}
			tenant, path, err := planPath("")
			if err != nil {
				return err
			}
			var cur planOut
			_, err = adminCall(cmd.Context(), http.MethodGet, path, nil, &cur)
			switch {
			case isNotFound(err):
				cur = planOut{}
			case err != nil:
				return err
			}
			diff := continuity.Compare(cur.Plan, p)
			analysis := continuity.Analyse(p, nil, time.Now())
			out := struct {
				Tenant      string               `json:"tenant"`
				DryRun      bool                 `json:"dry_run"`
				BaseVersion int64                `json:"base_version"`
				Version     int64                `json:"version,omitempty"`
				Unchanged   bool                 `json:"unchanged,omitempty"`
				SHA256      string               `json:"sha256,omitempty"`
				Changes     continuity.Diff      `json:"changes"`
				Problems    []continuity.Problem `json:"problems"`
			}{Tenant: tenant, DryRun: dryRun, BaseVersion: cur.Version, Changes: diff, Problems: analysis.Problems}
			if !g.json {
				if cur.Version == 0 {
					fmt.Printf("%s has no plan yet: this will be version 1.\n", tenant)
				} else {
					fmt.Printf("Changes to the plan of %s (version %d, saved %s by %s):\n", tenant, cur.Version, localTime(cur.Created), cur.CreatedBy)
				}
				printDiff(diff, p)
				printProblems(analysis.Problems, 5)
			}
			if dryRun {
				if g.json {
					return printJSON(out)
				}
				say("\nDry run: nothing was saved. To save it: rempart plan apply -f %s --tenant %s", file, tenant)
				return nil
			}
			var saved planOut
			if _, err := adminCall(cmd.Context(), http.MethodPut, path, map[string]any{"base_version": cur.Version, "yaml": string(data), "note": note}, &saved); err != nil {
				var ae *apiError
				if errors.As(err, &ae) && ae.Status == http.StatusConflict {
					return fmt.Errorf("%w\nRun `rempart plan apply -f %s` again to see the changes against the latest version", err, file)
				}
				return err
			}
			out.Version, out.Unchanged, out.SHA256 = saved.Version, saved.Unchanged, saved.SHA256
			if g.json {
				return printJSON(out)
			}
			if saved.Unchanged {
				say("\nNothing saved: version %d is already this plan.", saved.Version)
				return nil
			}
			say("\nSaved version %d of the plan of %s (SHA-256 %s…).\nNext: rempart plan order --tenant %s", saved.Version, tenant, saved.SHA256[:16], tenant)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the plan file (YAML, format 1; - for standard input)")
	cmd.Flags().StringVar(&note, "note", "", "a line saying why, kept with the version and in the audit trail")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and show the changes, save nothing")
	return cmd
}

// printDiff shows what a new version changes, for people.
func printDiff(d continuity.Diff, p *continuity.Plan) {
	if d.Empty() {
		fmt.Println("  no change to any service or to the plan's fields")
		return
	}
	name := func(id string) string {
		if s, ok := p.Service(id); ok && s.Name != "" {
			return id + " (" + s.Name + ")"
		}
		return id
	}
	for _, id := range d.Added {
		fmt.Printf("  + added    %s\n", name(id))
	}
	for _, c := range d.Changed {
		fmt.Printf("  ~ changed  %s: %s\n", name(c.ID), strings.Join(c.Fields, ", "))
	}
	for _, id := range d.Removed {
		fmt.Printf("  - removed  %s\n", id)
	}
	if len(d.Plan) > 0 {
		fmt.Printf("  ~ plan     %s\n", strings.Join(d.Plan, ", "))
	}
	fmt.Printf("  (%d added, %d changed, %d removed)\n", len(d.Added), len(d.Changed), len(d.Removed))
}

// printProblems lists problems, errors first; at most maxWarn warnings (0: all).
func printProblems(ps []continuity.Problem, maxWarn int) {
	if len(ps) == 0 {
		return
	}
	errs, warns := 0, 0
	for _, p := range ps {
		if p.Severity == continuity.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	fmt.Printf("\nProblems: %d error(s), %d warning(s)\n", errs, warns)
	for _, p := range ps {
		if p.Severity == continuity.SeverityError {
			fmt.Printf("  ERROR    %s\n", p.Message)
		}
	}
	shown := 0
	for _, p := range ps {
		if p.Severity != continuity.SeverityError {
			if maxWarn > 0 && shown == maxWarn {
				fmt.Printf("  ... and %d more warning(s)\n", warns-shown)
				break
			}
			fmt.Printf("  warning  %s\n", p.Message)
			shown++
		}
	}
}

func versionQuery(version int64, extra url.Values) string {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if version > 0 {
		q.Set("version", strconv.FormatInt(version, 10))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func newPlanExport() *cobra.Command {
	var version int64
	var output string
	var canonical bool
	cmd := &cobra.Command{
		Use:   "export [--tenant NAME] [--version N] [-o FILE]",
		Short: "Write the plan as YAML (the latest version, or version N)",
		Long: `Write the plan as it was applied (comments kept), on standard output or in a
file. --canonical writes it again from its contents instead (the same plan,
fields in the documented order, a header naming the version). Change it and
apply it back with ` + "`rempart plan apply -f FILE`" + `. --json gives the plan as JSON
with its version, author and SHA-256.`,
		Example: `  rempart plan export --tenant mairie-a -o plan.yaml
  rempart plan export --version 3 --canonical`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if version < 0 {
				return usagef("--version: use a number shown by `rempart plan history`")
			}
			tenant, path, err := planPath("")
			if err != nil {
				return err
			}
			extra := url.Values{}
			if canonical {
				extra.Set("format", "canonical")
			}
			var p planOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path+versionQuery(version, extra), nil, &p); err != nil {
				return err
			}
			if g.json {
				return printJSON(p)
			}
			if output == "" || output == "-" {
				_, err := io.WriteString(os.Stdout, p.YAML)
				return err
			}
			// Contacts hold names and phone numbers: readable by the owner only.
			if err := os.WriteFile(output, []byte(p.YAML), 0o600); err != nil {
				return fmt.Errorf("cannot write the plan: %w", err)
			}
			say("Wrote version %d of the plan of %s (saved %s by %s) to %s.", p.Version, tenant, localTime(p.Created), p.CreatedBy, output)
			return nil
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "this version (see `rempart plan history`) instead of the latest")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&canonical, "canonical", false, "write the plan again from its contents, not the file as applied")
	return cmd
}

func newPlanOrder() *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "order [--tenant NAME] [--version N]",
		Short: "Show the recovery order in waves, with the backups of each service and the problems",
		Long: `Show in which order to restore the services: in waves, each wave after the
services it depends on; the services of one wave can be restored in parallel,
and within a wave the position number is the order for a single person (more
critical first, then shorter RTO). Under each service, its backup sources
with the latest clean snapshot the server holds of that machine.

Problems are listed at the end. Errors (a dependency cycle, an unknown
dependency) make the command exit with status 1, so a script can check a
plan; warnings (no backup source, no snapshot, a snapshot older than the
RPO) do not.`,
		Example: `  rempart plan order --tenant mairie-a
  rempart plan order --json | jq '.problems[] | .message'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if version < 0 {
				return usagef("--version: use a number shown by `rempart plan history`")
			}
			tenant, path, err := planPath("/order")
			if err != nil {
				return err
			}
			var o planOrderOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path+versionQuery(version, nil), nil, &o); err != nil {
				return err
			}
			if g.json {
				if err := printJSON(o); err != nil {
					return err
				}
			} else {
				printOrder(o)
			}
			if n := o.Errors(); n > 0 {
				return withCode(exitError, fmt.Errorf("the plan of %s has %d error(s) in its recovery order (listed above): fix the plan file and apply it again", tenant, n))
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&version, "version", 0, "this version (see `rempart plan history`) instead of the latest")
	return cmd
}

func printOrder(o planOrderOut) {
	fmt.Printf("Recovery order of %s (plan version %d, backups as of %s):\n", o.Tenant, o.Version, localTime(o.At))
	sources := map[string][]continuity.SourceStatus{}
	for _, s := range o.Sources {
		sources[s.Service] = append(sources[s.Service], s)
	}
	idw, namew := 2, 4
	for _, w := range o.Waves {
		for _, s := range w.Services {
			idw, namew = max(idw, len(s.ID)), max(namew, len([]rune(s.Name)))
		}
	}
	for _, w := range o.Waves {
		switch {
		case w.Number == 1 && len(w.Services) > 1:
			fmt.Printf("\nWave 1, in parallel:\n")
		case w.Number == 1:
			fmt.Printf("\nWave 1:\n")
		case len(w.Services) > 1:
			fmt.Printf("\nWave %d, after wave %d, in parallel:\n", w.Number, w.Number-1)
		default:
			fmt.Printf("\nWave %d, after wave %d:\n", w.Number, w.Number-1)
		}
		for _, s := range w.Services {
			name := s.Name + strings.Repeat(" ", namew-len([]rune(s.Name)))
			fmt.Printf("  %2d. %-*s  %s  %-10s  RTO %-6s RPO %s\n", s.Position, idw, s.ID, name, s.Criticality, s.RTO, s.RPO)
			for _, src := range sources[s.ID] {
				printSource("", src)
			}
		}
	}
	if len(o.Waves) == 0 && len(o.Unordered) == 0 {
		fmt.Println("\nThe plan has no service yet: add them to the file and apply it.")
	}
	if len(o.Unordered) > 0 {
		fmt.Printf("\nCannot be placed (dependency cycle): %s\n", strings.Join(o.Unordered, ", "))
		for _, id := range o.Unordered {
			for _, src := range sources[id] {
				printSource(id+": ", src)
			}
		}
	}
	printProblems(o.Problems, 0)
	if len(o.Problems) == 0 {
		fmt.Println("\nNo problem found.")
	}
}

// printSource shows a source with its latest snapshot.
func printSource(prefix string, src continuity.SourceStatus) {
	state := "no snapshot"
	if !src.Latest.IsZero() {
		state = fmt.Sprintf("latest %s (%s ago)", localTime(src.Latest), roundedAge(src.Age))
	}
	mark := map[string]string{"ok": "ok", "stale": "OLDER THAN RPO", "missing": "MISSING"}[src.Status]
	fmt.Printf("      %s%s  %s  %s\n", prefix, src.Source, state, mark)
}

// roundedAge shows an age to the minute (to the day beyond a week).
func roundedAge(d continuity.Duration) continuity.Duration {
	v := time.Duration(d)
	switch {
	case v >= 7*24*time.Hour:
		return continuity.Duration(v.Truncate(24 * time.Hour))
	case v >= time.Minute:
		return continuity.Duration(v.Truncate(time.Minute))
	}
	return d
}

func newPlanHistory() *cobra.Command {
	return &cobra.Command{
		Use:   "history [--tenant NAME]",
		Short: "List every version of the plan: who saved it, when, and what it changed",
		Long: `List every saved version of the plan, newest first: its number, when and by
whom it was saved, its note, its review date, and which services it added,
changed and removed. Get an older version back with
` + "`rempart plan export --version N`" + `.`,
		Example: `  rempart plan history --tenant mairie-a
  rempart plan export --version 2 --tenant mairie-a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, path, err := planPath("/versions")
			if err != nil {
				return err
			}
			var list []planOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			if len(list) == 0 {
				say("%s has no plan yet: start from `rempart plan example > plan.yaml`, then rempart plan apply -f plan.yaml --tenant %s", tenant, tenant)
				return nil
			}
			fmt.Printf("%-8s %-16s %-24s %-9s %-12s %s\n", "VERSION", "SAVED", "BY", "SERVICES", "REVIEWED", "CHANGES")
			for _, v := range list {
				reviewed := v.ReviewedAt
				if reviewed == "" {
					reviewed = "-"
				}
				changes := "-"
				if c := v.Changes; c != nil {
					var parts []string
					if len(c.Added) > 0 {
						parts = append(parts, "+"+strings.Join(c.Added, " +"))
					}
					for _, ch := range c.Changed {
						parts = append(parts, "~"+ch.ID)
					}
					if len(c.Removed) > 0 {
						parts = append(parts, "-"+strings.Join(c.Removed, " -"))
					}
					if len(c.Plan) > 0 {
						parts = append(parts, "plan: "+strings.Join(c.Plan, ","))
					}
					if len(parts) > 0 {
						changes = strings.Join(parts, " ")
					}
				}
				fmt.Printf("%-8d %-16s %-24s %-9d %-12s %s\n", v.Version, localTime(v.Created), v.CreatedBy, v.Services, reviewed, changes)
				if v.Note != "" {
					fmt.Printf("%-8s note: %s\n", "", v.Note)
				}
			}
			return nil
		},
	}
}
