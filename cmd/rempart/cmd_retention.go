package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/ui"
	"github.com/spf13/cobra"
)

// retentionOut mirrors the server's answer (internal/server/retention_api.go).
type retentionOut struct {
	Tenant      string            `json:"tenant"`
	Policy      map[string]string `json:"policy"`
	PolicyText  string            `json:"policy_text"`
	Pending     map[string]string `json:"pending,omitempty"`
	PendingText string            `json:"pending_text,omitempty"`
	PendingAt   *time.Time        `json:"pending_at,omitempty"`
	LockDays    int               `json:"lock_days"`
	Immutable   bool              `json:"storage_immutable"`
	OpenAlerts  int               `json:"open_alerts"`
	LastGC      *struct {
		Finished         time.Time `json:"finished"`
		SnapshotsKept    int       `json:"snapshots_kept"`
		SnapshotsDeleted int       `json:"snapshots_deleted"`
		PacksDeleted     int       `json:"packs_deleted"`
		BytesFreed       int64     `json:"bytes_freed"`
		Error            string    `json:"error"`
	} `json:"last_collection,omitempty"`
	Change *struct {
		Pending     bool      `json:"pending"`
		EffectiveAt time.Time `json:"effective_at"`
	} `json:"change,omitempty"`
}

func newTenantRetention() *cobra.Command {
	var lockDays int
	rules := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "retention NAME",
		Short: "Show or change how long a tenant's backups are kept, and their lock",
		Long: `Show or change a tenant's retention on the server.

The server keeps snapshots by the time it received them (a client's clock
cannot lie to it), for each backed-up machine:
  --keep-all 14d   every snapshot of the last 14 days
  --daily 90d      the first snapshot of each day, for 90 days
  --weekly 1y      the first of each week, for a year
  --monthly 5y     the first of each month, for five years
  --yearly 10y     the first of each year, for ten years
The latest snapshot of each machine is always kept. With no rule at all
(the default) the server keeps everything.

A rule that keeps less than before takes effect only after a delay (7 days
by default), so that a stolen password cannot make backups vanish at once;
it is written to the audit trail. A rule that keeps more applies at once.
Give "0" to turn a rule off.

--lock-days N: no snapshot can be removed by anyone for N days after it
arrived (on S3 storage, Object Lock enforces it even against the server).
A lock can be lengthened, never shortened.

Periods: h (hours), d (days), w (weeks), m (months), y (years).`,
		Example: `  rempart tenant retention mairie-a
  rempart tenant retention mairie-a --keep-all 14d --daily 90d --weekly 1y --lock-days 30
  rempart tenant retention mairie-a --monthly 5y --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/tenants/" + args[0] + "/retention"
			var cur retentionOut
			sv, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &cur)
			if err != nil {
				return err
			}
			in := map[string]any{}
			changed := false
			for _, name := range []string{"keep-all", "daily", "weekly", "monthly", "yearly"} {
				if cmd.Flags().Changed(name) {
					changed = true
				}
			}
			if changed {
				policy := map[string]string{}
				for k, v := range cur.Policy {
					policy[k] = v
				}
				for flag, key := range map[string]string{"keep-all": "keep_all", "daily": "daily", "weekly": "weekly", "monthly": "monthly", "yearly": "yearly"} {
					if !cmd.Flags().Changed(flag) {
						continue
					}
					if v := strings.TrimSpace(*rules[flag]); v == "0" || v == "" {
						delete(policy, key)
					} else {
						policy[key] = v
					}
				}
				in["policy"] = policy
			}
			if cmd.Flags().Changed("lock-days") {
				in["lock_days"] = lockDays
			}
			out := cur
			if len(in) > 0 {
				out = retentionOut{}
				if err := call(cmd.Context(), sv, sv.Admin.Token, http.MethodPut, path, in, &out); err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(out)
			}
			printRetention(out)
			if out.Change != nil && out.Change.Pending {
				say("The new policy keeps less than the current one: it takes effect on %s (audited). Until then the current policy applies.",
					out.Change.EffectiveAt.Local().Format("2006-01-02 15:04"))
			}
			return nil
		},
	}
	for _, name := range []string{"keep-all", "daily", "weekly", "monthly", "yearly"} {
		rules[name] = cmd.Flags().String(name, "", "period for the "+name+" rule (e.g. 14d, 12w, 6m, 1y; 0 turns it off)")
	}
	cmd.Flags().IntVar(&lockDays, "lock-days", 0, "days during which nobody can remove a new snapshot (can only grow)")
	return cmd
}

func printRetention(r retentionOut) {
	fmt.Printf("Tenant:     %s\n", r.Tenant)
	fmt.Printf("Policy:     %s\n", r.PolicyText)
	if r.Pending != nil && r.PendingAt != nil {
		fmt.Printf("Pending:    %s (from %s)\n", r.PendingText, r.PendingAt.Local().Format("2006-01-02 15:04"))
	}
	lock := "none (append-only)"
	if r.LockDays > 0 {
		lock = fmt.Sprintf("%d days", r.LockDays)
	}
	fmt.Printf("Lock:       %s\n", lock)
	if r.OpenAlerts > 0 {
		fmt.Printf("Frozen:     %d open Sentinel alert(s): nothing expires until they are closed (rempart alert list)\n", r.OpenAlerts)
	}
	if r.Immutable {
		fmt.Println("Storage:    immutable (S3 Object Lock, compliance mode)")
	} else {
		fmt.Println("Storage:    folder (locks enforced by the server)")
	}
	if r.LastGC != nil {
		fmt.Printf("Last clean-up: %s, %d snapshots kept, %d removed, %d packs removed (%s freed)",
			r.LastGC.Finished.Local().Format("2006-01-02 15:04"), r.LastGC.SnapshotsKept, r.LastGC.SnapshotsDeleted,
			r.LastGC.PacksDeleted, ui.Bytes(uint64(r.LastGC.BytesFreed)))
		if r.LastGC.Error != "" {
			fmt.Printf(" — FAILED: %s", r.LastGC.Error)
		}
		fmt.Println()
	}
}

type gcOut struct {
	Tenant    string `json:"tenant"`
	DryRun    bool   `json:"dry_run"`
	Policy    string `json:"policy"`
	Snapshots []struct {
		Name     string    `json:"name"`
		Received time.Time `json:"received"`
		Source   string    `json:"source"`
		Keep     bool      `json:"keep"`
		Reasons  []string  `json:"reasons"`
	} `json:"snapshots"`
	SnapshotsKept    int    `json:"snapshots_kept"`
	SnapshotsDeleted int    `json:"snapshots_deleted"`
	SnapshotsLocked  int    `json:"snapshots_locked"`
	PacksReferenced  int    `json:"packs_referenced"`
	PacksDeleted     int    `json:"packs_deleted"`
	BytesFreed       int64  `json:"bytes_freed"`
	PacksYoung       int    `json:"packs_young"`
	PacksLocked      int    `json:"packs_locked"`
	LocksRemoved     int    `json:"locks_removed"`
	Postponed        string `json:"postponed"`
	Error            string `json:"error"`
}

func newTenantGC() *cobra.Command {
	var dryRun, verbose bool
	cmd := &cobra.Command{
		Use:   "gc NAME",
		Short: "Apply a tenant's retention now: remove expired snapshots and the data only they used",
		Long: `Apply a tenant's retention now. The server also does it by itself every
hour (retention.interval in rempart.yaml).

Snapshots that no rule keeps and no lock protects are removed, then the
packs (data files) that no remaining snapshot needs and that are older
than the grace period (48 h: a backup may still be running). The server
needs no key for this: every snapshot lists, in clear, the packs it needs.
--dry-run shows what would go, and why each snapshot is kept.`,
		Example: `  rempart tenant gc mairie-a --dry-run -v
  rempart tenant gc mairie-a --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out gcOut
			_, err := adminCall(cmd.Context(), http.MethodPost, "/v1/tenants/"+args[0]+"/gc", map[string]bool{"dry_run": dryRun}, &out)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(out)
			}
			if verbose || dryRun {
				for _, s := range out.Snapshots {
					fate := "remove"
					if s.Keep {
						fate = "keep: " + strings.Join(s.Reasons, ", ")
					}
					fmt.Printf("%s  %s  %-10s %s\n", s.Name[:12], s.Received.Local().Format("2006-01-02 15:04"), s.Source, fate)
				}
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			say("%s %d snapshot(s) and %d pack(s) (%s) of %s; %d snapshot(s) kept (policy: %s).",
				verb, out.SnapshotsDeleted, out.PacksDeleted, ui.Bytes(uint64(out.BytesFreed)), out.Tenant, out.SnapshotsKept, out.Policy)
			if out.SnapshotsLocked > 0 || out.PacksLocked > 0 {
				say("%d snapshot(s) and %d pack(s) are past their policy but still locked by the storage; they go when the lock ends.", out.SnapshotsLocked, out.PacksLocked)
			}
			if out.PacksYoung > 0 {
				say("%d unused pack(s) are younger than the grace period (a backup may still need them).", out.PacksYoung)
			}
			if out.Postponed != "" {
				say("Packs not collected: %s.", out.Postponed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be removed, remove nothing")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every snapshot with the reason it is kept")
	return cmd
}
