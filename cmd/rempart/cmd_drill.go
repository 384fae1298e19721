package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// drillOut mirrors the server's drills (internal/server/drill_api.go).
type drillOut struct {
	drill.Record
	SHA256 string `json:"sha256,omitempty"`
}

// drillServicesOut mirrors GET /v1/tenants/{t}/drill-services.
type drillServicesOut struct {
	Tenant   string               `json:"tenant"`
	Version  int64                `json:"version"`
	Services []continuity.Service `json:"services"`
}

var drillTenant string

func newDrill() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Restore drills: prove that each service of the plan can be restored in time",
		Long: `A backup nobody has restored is a hope, not a plan. A restore drill takes a
service of the continuity plan and, for each of its sources (host and path),
restores the latest snapshot of that host holding that path (skipping
snapshots Sentinel flagged) into a fresh scratch folder, re-reads every
restored file and checks its bytes against the snapshot's content hashes,
runs the service's health check on the restored data (the plan's
health_check, e.g. open a restored database and query it), measures the time
and compares it with the service's RTO.

A drill never touches production paths: the scratch folder is new, may not
be, contain or be inside a source's path, and is removed at the end (unless
--keep). The result is passed, failed (something could not be restored,
verified or checked) or slow (it took longer than the RTO: restore plus
health check).

Drills run where the passphrase is: on the town's machine, with
REMPART_PASSWORD or --password-file, against the server's repository
(--repo https://HOST:PORT/TENANT) or a local one. With a server, the plan
comes from the server and each drill's evidence is recorded there (what was
restored from which snapshot, files, bytes, a digest of the verified list,
times, the health check's output, who ran it, where, when); a failed or slow
drill opens an alert (` + "`rempart alert list`" + `) that is notified like Sentinel's,
but does not freeze retention. Operators, auditors and the tenant's admin
read the history with ` + "`rempart drill list`" + ` and ` + "`rempart drill show ID`" + `.

The server cannot run a drill, but it can ask for one: the town's admin or an
operator requests it (` + "`rempart drill request`" + `, the console's "Run a drill"), or
the tenant's schedule does (` + "`rempart drill schedule --every 30d --at 02:30`" + `);
a machine of the town that holds the passphrase picks the requests up with
` + "`rempart drill run --requested --watch`" + ` (a service) or from cron, runs and
records them. ` + "`rempart drill requests`" + ` follows them.

The format of health_check and how to schedule drills: docs/drills.md.`,
		Example: `  rempart drill run paie --repo https://backup.example:8443/mairie-a
  rempart drill run --all --keep --scratch /var/tmp/drills
  rempart drill run etat-civil --repo /srv/backup/repo --plan plan.yaml
  rempart drill run --requested --watch --repo https://backup.example:8443/mairie-a
  rempart drill request paie --tenant mairie-a --wait
  rempart drill requests --tenant mairie-a
  rempart drill schedule --every 30d --at 02:30 --tenant mairie-a
  rempart drill list --tenant mairie-a
  rempart drill show 12`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.PersistentFlags().StringVar(&drillTenant, "tenant", "", "the tenant (town) whose drills (default: the --repo's tenant, or your account's)")
	cmd.AddCommand(newDrillRun(), newDrillList(), newDrillShow(), newDrillRequest(), newDrillRequests(), newDrillCancel(), newDrillSchedule())
	return cmd
}

// drillServer is where a drill's plan comes from and its record goes: the
// server of --repo (with this machine's agent token of that tenant, else
// the admin session), or the signed-in server with --tenant.
type drillServer struct {
	sv     *clientconf.Server
	token  string
	tenant string
	// agentHost is the name this machine enrolled with in the tenant
	// ("" when it is not an agent of it).
	agentHost string
}

func (d *drillServer) call(ctx context.Context, method, path string, in, out any) error {
	return call(ctx, d.sv, d.token, method, path, in, out)
}

func resolveDrillServer() (*drillServer, error) {
	if isRemote(g.repo) {
		st, err := clientconf.Load()
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(g.repo)
		if err != nil {
			return nil, usagef("repository address %q: %v", g.repo, err)
		}
		tenant := strings.Trim(u.Path, "/")
		sv := st.Server(g.repo)
		if sv == nil {
			return nil, fmt.Errorf("repository %s: this machine does not know that server yet: run `rempart agent join URL TOKEN` (or `rempart login URL`) first", g.repo)
		}
		if drillTenant != "" && drillTenant != tenant {
			return nil, usagef("--tenant %s is not the tenant of --repo %s", drillTenant, g.repo)
		}
		if a := sv.Agents[tenant]; a != nil {
			return &drillServer{sv: sv, token: a.Token, tenant: tenant, agentHost: a.Host}, nil
		}
		if sv.Admin.Valid(time.Now()) {
			return &drillServer{sv: sv, token: sv.Admin.Token, tenant: tenant}, nil
		}
		return nil, fmt.Errorf("repository %s: neither an agent of %s nor signed in: run `rempart agent join` or `rempart login`", g.repo, tenant)
	}
	if drillTenant == "" {
		return nil, nil
	}
	return signedInDrillServer()
}

// drillListServer is the server and tenant of drill list and show.
func drillListServer() (*drillServer, error) {
	if drillTenant == "" && isRemote(g.repo) {
		return resolveDrillServer()
	}
	return signedInDrillServer()
}

// signedInDrillServer is the server signed in to (--server when several)
// with its session, for the tenant of --tenant, else of the account.
func signedInDrillServer() (*drillServer, error) {
	_, sv, err := adminServer()
	if err != nil {
		return nil, err
	}
	t := drillTenant
	if t == "" {
		if t = sv.Admin.Tenant; t == "" {
			return nil, usagef("say which town with --tenant NAME (your account is not tied to one tenant; see `rempart tenant list`)")
		}
	}
	return &drillServer{sv: sv, token: sv.Admin.Token, tenant: t}, nil
}

func whoRuns() string {
	name := "?"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// drillRun runs drills from one repository, opened once: the settings of
// `rempart drill run` and what every drill needs. `drill run SERVICE`
// and `drill run --requested` both run each drill with one.
type drillRun struct {
	ds                       *drillServer // nil: no server (--plan)
	scratch                  string
	keep, noHealth, noRecord bool
	healthTimeout            time.Duration

	r     *repo.Repository
	snaps []*snapshot.Snapshot
	host  string
	// aliases: this machine's backups name it by its system host name;
	// the plan may name it as it enrolled.
	aliases map[string][]string
}

// loadSnapshots reads the repository's snapshots (again for each
// requested drill: a machine that waits for requests sees new backups).
func (x *drillRun) loadSnapshots(ctx context.Context) error {
	snaps, problems, err := x.r.Snapshots(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "warning: snapshot %s cannot be read (%v); run `rempart check`\n", short8(p.Name), p.Err)
	}
	x.snaps = snaps
	x.host, _ = os.Hostname()
	x.aliases = nil
	if x.ds != nil && x.ds.agentHost != "" && x.host != "" && !strings.EqualFold(x.ds.agentHost, x.host) {
		x.aliases = map[string][]string{strings.ToLower(x.ds.agentHost): {x.host}}
	}
	return nil
}

// run runs the drill of sv as `rempart drill run SERVICE` does, with a
// status line on a terminal. err is for a drill that could not start (an
// unsafe or unusable scratch folder).
func (x *drillRun) run(ctx context.Context, sv continuity.Service, planVersion int64, prog *drill.Progress) (*drill.Record, error) {
	var st *ui.Status
	if !g.quiet && !g.json {
		st = ui.StartStatus(os.Stderr, 250*time.Millisecond, func() string {
			ph := prog.Phase()
			if strings.HasPrefix(ph, "verifying") {
				return fmt.Sprintf("%s: %s: %s checked", sv.ID, ph, ui.Bytes(prog.VerifiedBytes.Load()))
			}
			done, total := prog.Restore.BytesDone.Load(), prog.Restore.BytesTotal.Load()
			frac := 0.0
			if total > 0 {
				frac = float64(done) / float64(total)
			}
			return fmt.Sprintf("%s: %s %s %3.0f%% %s of %s", sv.ID, ph, ui.Bar(frac, 20), frac*100, ui.Bytes(done), ui.Bytes(total))
		})
	}
	rec, err := drill.Run(ctx, x.r, x.snaps, sv, drill.Options{Scratch: x.scratch, Keep: x.keep, NoHealthCheck: x.noHealth,
		HealthTimeout: x.healthTimeout, RanBy: whoRuns(), Host: x.host, Program: "rempart " + version, PlanVersion: planVersion, Progress: prog, Aliases: x.aliases})
	if st != nil {
		st.Stop()
	}
	return rec, err
}

// record sends a drill's record to the server (answering request when it
// is not 0: the server then marks that request done) and reports it on
// stdout (unless --json). recordErr says why it could not be sent.
func (x *drillRun) record(ctx context.Context, sv continuity.Service, rec *drill.Record, request int64) (out drillOut, recordErr error) {
	out = drillOut{Record: *rec}
	if x.ds != nil && !x.noRecord {
		path := "/v1/tenants/" + url.PathEscape(x.ds.tenant) + "/drills"
		if request != 0 {
			path += "?request=" + strconv.FormatInt(request, 10)
		}
		var saved drillOut
		if recordErr = x.ds.call(ctx, http.MethodPost, path, rec, &saved); recordErr == nil {
			out = saved
		}
	}
	if !g.json {
		printDrill(out, sv)
		switch {
		case recordErr != nil:
			fmt.Fprintf(os.Stderr, "warning: the drill could not be recorded on the server: %v\n", recordErr)
		case out.ID != 0 && !g.quiet:
			line := fmt.Sprintf("  Recorded as drill %d of %s", out.ID, x.ds.tenant)
			if out.AlertID != 0 {
				line += fmt.Sprintf("; alert %d opened (rempart alert show %d)", out.AlertID, out.AlertID)
			}
			fmt.Println(line + ".")
		}
	}
	return out, recordErr
}

func newDrillRun() *cobra.Command {
	var all, keep, noHealth, noRecord, requested, watch bool
	var scratch, planFile string
	var healthTimeout, interval time.Duration
	cmd := &cobra.Command{
		Use:   "run SERVICE... | --all | --requested [--watch]",
		Short: "Restore each source of a service into a scratch folder, verify every byte, run its health check, time it",
		Long: `Run a restore drill of the named services (their IDs in the plan), or of every
service with --all (in the plan's recovery order). For each service:
  1. each source's latest snapshot (host and path; snapshots Sentinel flagged
     suspect or infected are skipped, as a recovery would) is restored into a
     fresh scratch folder, at SCRATCH/HOST/PATH;
  2. every restored file is read back and its bytes checked against the
     snapshot's content hashes; damaged files are named;
  3. the service's health_check, if the plan has one, runs in the scratch
     folder (environment: REMPART_DRILL_DIR, REMPART_DRILL_SOURCE = the first
     source's restored folder, REMPART_DRILL_SOURCE_1, _2...; the passphrase
     is never passed on), for at most --health-timeout;
  4. the time (restore + health check) is compared with the service's RTO.

The plan comes from the server (--repo https://HOST:PORT/TENANT, or --tenant
when signed in), or from a file with --plan. With a server, each drill's
evidence is recorded there (--no-record: not), and a failed or slow drill
opens an alert.

The scratch folder (default: a new folder in $TMPDIR; --scratch DIR: a new
folder inside DIR) may not be, contain or be inside a source's path, and is
removed at the end unless --keep. It needs room for the service's data.

Drills requested on the server (from the console's "Run a drill", with
` + "`rempart drill request`" + `, or by the tenant's schedule: ` + "`rempart drill schedule`" + `)
wait for a machine that holds the passphrase: --requested takes the oldest
one, runs it as ` + "`drill run SERVICE`" + ` would (the plan's current version),
records it, and takes the next one, until none is left. It tells the server
how far the drill got every 10 seconds; a request cancelled on the server
stops its drill. With --watch it then asks again every --interval until
stopped (Ctrl-C, SIGTERM: the drill in progress stops and its request fails
with "stopped on HOST"): run it as a service, or without --watch from cron.
The passphrase is read once, when the first request comes; a request that
cannot run (wrong passphrase, service no longer in the plan) fails on the
server with the reason, which opens a drill alert.

Exit status: 0 when every drill passed, 1 when one failed or was slow (or,
with --requested, a request could not run); with --watch, 0 once stopped.`,
		Example: `  export REMPART_REPO=https://backup.example:8443/mairie-a REMPART_PASSWORD_FILE=/root/.rempart-pass
  rempart drill run paie
  rempart drill run --all --scratch /var/tmp/drills
  rempart drill run eau --keep          # look at the restored data afterwards
  rempart drill run etat-civil --repo /mnt/usb/repo --plan plan.yaml --json
  rempart drill run --requested --watch --scratch /var/tmp   # as a service: run what the console asks for
  rempart drill run --requested -q      # from cron: run what is waiting, then stop`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !requested && (watch || cmd.Flags().Changed("interval")) {
				return usagef("--watch and --interval go with --requested (run the drills requested on the server)")
			}
			if requested {
				switch {
				case all || len(args) > 0:
					return usagef("--requested runs the drills requested on the server: name no service and leave out --all (request one with `rempart drill request SERVICE`)")
				case planFile != "":
					return usagef("--requested takes the plan from the server: leave out --plan")
				case noRecord:
					return usagef("--requested records every drill on the server: leave out --no-record")
				case cmd.Flags().Changed("interval") && !watch:
					return usagef("--interval goes with --watch")
				case interval < time.Second:
					return usagef("--interval %s: at least 1s (30s by default)", interval)
				}
				return runRequested(cmd.Context(), &drillRun{scratch: scratch, keep: keep, noHealth: noHealth, healthTimeout: healthTimeout}, watch, interval)
			}
			if all == (len(args) > 0) {
				return usagef("name the services to drill (their IDs in the plan), or give --all")
			}
			ctx := cmd.Context()
			if _, err := repoPath(); err != nil {
				return err
			}
			ds, err := resolveDrillServer()
			if err != nil {
				return err
			}
			var plan *continuity.Plan
			var planVersion int64
			switch {
			case planFile != "":
				data, err := os.ReadFile(planFile)
				if err != nil {
					return fmt.Errorf("cannot read the plan: %w", err)
				}
				if plan, err = continuity.Decode(data); err != nil {
					return fmt.Errorf("%s: %w", planFile, err)
				}
			case ds != nil:
				var out drillServicesOut
				if err := ds.call(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(ds.tenant)+"/drill-services", nil, &out); err != nil {
					return err
				}
				plan, planVersion = &continuity.Plan{Format: continuity.FormatVersion, Services: out.Services}, out.Version
			default:
				return usagef("no plan: give --plan FILE, or use the server's (--repo https://HOST:PORT/TENANT, or --tenant NAME when signed in)")
			}
			var services []continuity.Service
			if all {
				a := continuity.Analyse(plan, nil, time.Now())
				seen := map[string]bool{}
				for _, w := range a.Waves {
					for _, s := range w.Services {
						if sv, ok := plan.Service(s.ID); ok && !seen[s.ID] {
							services, seen[s.ID] = append(services, sv), true
						}
					}
				}
				for _, sv := range plan.Services { // those a cycle leaves unordered
					if !seen[sv.ID] {
						services = append(services, sv)
					}
				}
				if len(services) == 0 {
					return errors.New("the plan has no service to drill")
				}
			} else {
				for _, id := range args {
					sv, ok := plan.Service(id)
					if !ok {
						var ids []string
						for _, s := range plan.Services {
							ids = append(ids, s.ID)
						}
						return usagef("no service %q in the plan (its services: %s)", id, strings.Join(ids, ", "))
					}
					services = append(services, sv)
				}
			}
			// Refuse an unsafe scratch folder before asking for the passphrase.
			for _, sv := range services {
				if scratch != "" {
					if err := drill.CheckScratchParent(scratch, sv.Sources); err != nil {
						return usageError{err}
					}
				}
			}

			x := &drillRun{ds: ds, scratch: scratch, keep: keep, noHealth: noHealth, noRecord: noRecord, healthTimeout: healthTimeout}
			s, err := openRepo(ctx, sharedLock, "drill", true)
			if err != nil {
				return err
			}
			defer s.Close()
			x.r = s.r
			if err := x.loadSnapshots(ctx); err != nil {
				return err
			}
			var records []drillOut
			bad := 0
			for _, sv := range services {
				rec, err := x.run(ctx, sv, planVersion, &drill.Progress{})
				if err != nil {
					if errors.Is(err, drill.ErrScratch) {
						return usageError{err}
					}
					return err
				}
				out, _ := x.record(ctx, sv, rec, 0)
				if out.Result != drill.Passed {
					bad++
				}
				records = append(records, out)
				if ctx.Err() != nil {
					break
				}
			}
			if g.json {
				if err := printJSON(records); err != nil {
					return err
				}
			}
			if bad > 0 {
				return withCode(exitError, fmt.Errorf("%d of %d drill(s) failed or were slower than the RTO", bad, len(records)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "drill every service of the plan, in recovery order")
	f.BoolVar(&keep, "keep", false, "keep the scratch folder with the restored data (its path is printed)")
	f.StringVar(&scratch, "scratch", "", "make the scratch folder inside DIR (default $TMPDIR); never a source's path")
	f.StringVar(&planFile, "plan", "", "read the services from this plan file instead of the server")
	f.BoolVar(&noHealth, "no-health-check", false, "do not run the services' health checks")
	f.DurationVar(&healthTimeout, "health-timeout", drill.DefaultHealthTimeout, "stop a health check after this long (it then fails)")
	f.BoolVar(&noRecord, "no-record", false, "do not send the evidence to the server")
	f.BoolVar(&requested, "requested", false, "run the drills requested on the server (console, `drill request`, schedule), oldest first")
	f.BoolVar(&watch, "watch", false, "with --requested: keep waiting for requests until stopped")
	f.DurationVar(&interval, "interval", 30*time.Second, "with --watch: how often to ask the server for requests")
	return cmd
}

func secs(s float64) string {
	return ui.Duration(time.Duration(s * float64(time.Second)))
}

// printDrill shows a drill for people.
func printDrill(d drillOut, sv continuity.Service) {
	name := d.Service
	if d.ServiceName != "" {
		name += " (" + d.ServiceName + ")"
	}
	fmt.Printf("Drill of %s, RTO %s:\n", name, d.RTO)
	for _, s := range d.Sources {
		if s.Snapshot == "" {
			fmt.Printf("  %s:%s  %s\n", s.Host, s.Path, s.Error)
			continue
		}
		fmt.Printf("  %s:%s  snapshot %s of %s\n", s.Host, s.Path, short8(s.Snapshot), localTime(s.SnapshotTime))
		for _, sk := range s.Skipped {
			fmt.Printf("    skipped newer snapshot %s\n", sk)
		}
		verified := "verified"
		if s.DamagedCount > 0 {
			verified = fmt.Sprintf("%d DAMAGED", s.DamagedCount)
		}
		fmt.Printf("    restored %d files, %s in %s; %s (%s)\n", s.Files+uint64(s.DamagedCount), ui.Bytes(s.Bytes), secs(s.RestoreSeconds), verified, shortDigest(s.Digest))
		for _, dm := range s.Damaged {
			fmt.Printf("    DAMAGED %s: %s\n", dm.Path, dm.Reason)
		}
		if s.DamagedCount > len(s.Damaged) {
			fmt.Printf("    ... and %d more damaged files\n", s.DamagedCount-len(s.Damaged))
		}
		if s.Error != "" {
			fmt.Printf("    %s\n", s.Error)
		}
	}
	if h := d.Health; h != nil {
		switch {
		case h.OK():
			fmt.Printf("  health check ok (exit 0) in %s\n", secs(h.Seconds))
		case !h.Ran:
			fmt.Printf("  health check %s\n", h.Error)
		case h.TimedOut:
			fmt.Printf("  health check FAILED: no answer within the time limit\n")
		default:
			fmt.Printf("  health check FAILED: exit %d %s\n", h.ExitCode, h.Error)
		}
		if h.Output != "" && (!h.OK() || !g.quiet) {
			for _, l := range strings.Split(h.Output, "\n") {
				fmt.Printf("    | %s\n", l)
			}
		}
	} else if sv.HealthCheck == "" && d.Health == nil {
		fmt.Printf("  no health check in the plan (add health_check to the service: docs/drills.md)\n")
	}
	fmt.Printf("  recovery %s (restore %s + health check %s; verify %s), RTO %s → %s\n", secs(d.RecoverySeconds),
		secs(d.RestoreSeconds), secs(d.HealthSeconds), secs(d.VerifySeconds), d.RTO, strings.ToUpper(d.Result))
	for _, r := range d.Reasons {
		fmt.Printf("    - %s\n", r)
	}
	if d.Kept {
		fmt.Printf("  Restored data kept in %s (remove it when done)\n", d.Scratch)
	}
}

func shortDigest(s string) string {
	if len(s) > 23 {
		return s[:23] + "…"
	}
	return s
}

func newDrillList() *cobra.Command {
	var service string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--tenant NAME] [--service ID]",
		Short: "List the drills recorded on the server, newest first",
		Long: `List the restore drills recorded for a tenant, newest first: when, which
service, the result, files and bytes verified, the recovery time against the
RTO, who ran it and where. Operators, auditors and the tenant's admin may
read them. ` + "`rempart drill show ID`" + ` shows one drill's whole evidence.`,
		Example: `  rempart drill list --tenant mairie-a
  rempart drill list --service paie --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := drillListServer()
			if err != nil {
				return err
			}
			q := url.Values{}
			if service != "" {
				q.Set("service", service)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			path := "/v1/tenants/" + url.PathEscape(ds.tenant) + "/drills"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var list []drillOut
			if err := ds.call(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			if len(list) == 0 {
				say("No drill recorded for %s yet: run one with `rempart drill run SERVICE --repo %s/%s`.", ds.tenant, ds.sv.URL, ds.tenant)
				return nil
			}
			fmt.Printf("%-5s %-16s %-14s %-7s %8s %10s %-22s %-6s %-20s %s\n", "ID", "STARTED", "SERVICE", "RESULT", "FILES", "BYTES", "RECOVERY / RTO", "ALERT", "RAN BY", "RECORDED BY")
			for _, d := range list {
				alert := "-"
				if d.AlertID != 0 {
					alert = strconv.FormatInt(d.AlertID, 10)
				}
				fmt.Printf("%-5d %-16s %-14s %-7s %8d %10s %-22s %-6s %-20s %s\n", d.ID, localTime(d.Started), d.Service, d.Result, d.Files,
					ui.Bytes(d.Bytes), secs(d.RecoverySeconds)+" / "+d.RTO.String(), alert, d.RanBy, d.RecordedBy)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "only this service's drills")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default 100)")
	return cmd
}

func newDrillShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID [--tenant NAME]",
		Short: "Show one drill's evidence",
		Long: `Show the whole evidence of a drill: each source with the snapshot restored,
files and bytes verified and their digest, the damaged files and why, the
health check's command, exit status and last lines, the times against the
RTO, the result and its reasons, who ran it, where and when, and who
recorded it. --json gives the record as stored, with its SHA-256.`,
		Example: `  rempart drill show 12 --tenant mairie-a
  rempart drill show 12 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("drill ID %q: use a number shown by `rempart drill list`", args[0])
			}
			ds, err := drillListServer()
			if err != nil {
				return err
			}
			var d drillOut
			if err := ds.call(cmd.Context(), http.MethodGet, "/v1/tenants/"+url.PathEscape(ds.tenant)+"/drills/"+strconv.FormatInt(id, 10), nil, &d); err != nil {
				return err
			}
			if g.json {
				return printJSON(d)
			}
			fmt.Printf("Drill %d of %s, started %s, finished %s\n", d.ID, d.Tenant, localTime(d.Started), localTime(d.Finished))
			fmt.Printf("Ran by %s on %s (%s); recorded by %s at %s; plan version %d\n", d.RanBy, d.Host, d.Program, d.RecordedBy, localTime(d.Recorded), d.PlanVersion)
			printDrill(d, continuity.Service{HealthCheck: "-"})
			if d.Health != nil {
				fmt.Printf("  health check command: %s\n", d.Health.Command)
			}
			fmt.Printf("  files verified: %d, %s; digest of the verified list: %s\n", d.Files, ui.Bytes(d.Bytes), d.Digest)
			if d.AlertID != 0 {
				fmt.Printf("  alert %d (rempart alert show %d)\n", d.AlertID, d.AlertID)
			}
			fmt.Printf("  evidence SHA-256: %s\n", d.SHA256)
			return nil
		},
	}
}
