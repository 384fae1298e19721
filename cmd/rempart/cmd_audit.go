package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// auditRecord is one record of GET /v1/audit.
type auditRecord struct {
	ID       int64           `json:"id"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Tenant   string          `json:"tenant,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

type auditChain struct {
	Intact  bool   `json:"intact"`
	Records int64  `json:"records"`
	Head    string `json:"head,omitempty"`
	Error   string `json:"error,omitempty"`
}

type auditPage struct {
	Records []auditRecord `json:"records"`
	Chain   auditChain    `json:"chain"`
	More    bool          `json:"more"`
}

// errAuditBroken is returned when the server finds its hash chain broken.
var errAuditBroken = errors.New("ALARM: the audit trail's hash chain is BROKEN: records were altered, removed or inserted on the server")

var fromRE = regexp.MustCompile(`\(from ([^)]+)\)`)

// from is where the request came from, when the record says.
func (r auditRecord) from() string {
	var d map[string]any
	if json.Unmarshal(r.Detail, &d) != nil {
		return ""
	}
	if f, ok := d["from"].(string); ok {
		return f
	}
	if s, ok := d["detail"].(string); ok {
		if m := fromRE.FindStringSubmatch(s); m != nil {
			return m[1]
		}
	}
	return ""
}

// what is the record's detail in one line, without the "from" already shown.
func (r auditRecord) what() string {
	var d map[string]any
	if len(r.Detail) == 0 || json.Unmarshal(r.Detail, &d) != nil {
		return string(r.Detail)
	}
	delete(d, "from")
	if len(d) == 0 {
		return ""
	}
	if s, ok := d["detail"].(string); ok && len(d) == 1 {
		return s
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func newAudit() *cobra.Command {
	var tenant string
	var limit int
	var after int64
	var asCSV bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the server's audit trail (who did what, when, from where) and verify its hash chain",
		Long: `Show the newest records of the server's audit trail: sign-ins, tenants and
machines created or revoked, and every refused request (who, what, when, from
where). The server verifies the whole hash chain on every call: the last line
says "chain intact (N records, head HASH)" — keep that head somewhere else to
notice later if the newest records were removed — or raises an alarm (exit 1)
when a record was altered, removed or inserted.

Operators and server-wide auditors see every tenant; tenant admins and tenant
auditors see only their own tenant's records.`,
		Example: `  rempart audit
  rempart audit --tenant mairie-a --limit 500
  rempart audit --json
  rempart audit --csv --limit 0 > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit %d: give a number of records (0 for all)", limit)
			}
			if asCSV && g.json {
				return usagef("choose --csv or --json, not both")
			}
			_, sv, err := adminServer()
			if err != nil {
				return err
			}
			// Pages come oldest first: read from --after to the end, keeping
			// the newest --limit records.
			var recs []auditRecord
			var chain auditChain
			for {
				q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {"1000"}}
				if tenant != "" {
					q.Set("tenant", tenant)
				}
				var page auditPage
				if err := call(cmd.Context(), sv, sv.Admin.Token, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				chain = page.Chain
				recs = append(recs, page.Records...)
				if limit > 0 && len(recs) > limit {
					recs = append(recs[:0], recs[len(recs)-limit:]...)
				}
				if !page.More || len(page.Records) == 0 {
					break
				}
				after = page.Records[len(page.Records)-1].ID
			}
			if recs == nil {
				recs = []auditRecord{}
			}
			switch {
			case g.json:
				if err := printJSON(map[string]any{"server": sv.URL, "records": recs, "chain": chain}); err != nil {
					return err
				}
			case asCSV:
				w := csv.NewWriter(os.Stdout)
				_ = w.Write([]string{"id", "time", "actor", "action", "tenant", "from", "detail", "hash"})
				for _, r := range recs {
					_ = w.Write([]string{strconv.FormatInt(r.ID, 10), r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.Action, r.Tenant, r.from(), string(r.Detail), r.Hash})
				}
				w.Flush()
				if err := w.Error(); err != nil {
					return err
				}
			default:
				for _, r := range recs {
					t := r.Tenant
					if t == "" {
						t = "-"
					}
					from := r.from()
					if from == "" {
						from = "-"
					}
					fmt.Printf("%-6d %s  %-16s %-24s %-14s from %-21s %s\n", r.ID, r.Time.Local().Format("2006-01-02 15:04:05"), r.Actor, r.Action, t, from, oneLine(r.what()))
				}
				if len(recs) == 0 {
					say("No audit records to show.")
				}
			}
			if !chain.Intact {
				fmt.Fprintf(os.Stderr, "\n!!! %v\n!!! %s\n!!! Keep the database as it is and compare it with a backup of the server.\n\n", errAuditBroken, chain.Error)
				return errAuditBroken
			}
			switch {
			case asCSV:
				fmt.Fprintf(os.Stderr, "chain intact (%d records, head %s)\n", chain.Records, chain.Head)
			case !g.json && !g.quiet:
				fmt.Printf("chain intact (%d records, head %s)\n", chain.Records, chain.Head)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	f.StringVar(&tenant, "tenant", "", "only the records of this tenant")
	f.IntVar(&limit, "limit", 100, "show the newest N records (0 for all)")
	f.Int64Var(&after, "after", 0, "only records with an ID above this one")
	f.BoolVar(&asCSV, "csv", false, "print CSV (id, time, actor, action, tenant, from, detail, hash) for a spreadsheet")
	return cmd
}

// oneLine keeps a detail on one line of a terminal.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 160 {
		s = string(r[:157]) + "..."
	}
	return s
}
