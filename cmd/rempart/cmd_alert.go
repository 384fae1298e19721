package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/ui"
)

// alertOut mirrors the server's alerts (internal/server/alerts_api.go).
type alertOut struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind,omitempty"` // sentinel, or drill (a failed or slow restore drill)
	Tenant        string     `json:"tenant"`
	State         string     `json:"state"`
	Verdict       string     `json:"verdict"`
	Snapshot      string     `json:"snapshot"`
	Source        string     `json:"source"`
	SourceHost    string     `json:"source_host,omitempty"`
	Opened        time.Time  `json:"opened"`
	CleanSnapshot string     `json:"clean_snapshot,omitempty"`
	CleanReceived *time.Time `json:"clean_received,omitempty"`
	Closed        *time.Time `json:"closed,omitempty"`
	ClosedBy      string     `json:"closed_by,omitempty"`
	CloseNote     string     `json:"close_note,omitempty"`
	DrillID       int64      `json:"drill_id,omitempty"`
	Service       string     `json:"service,omitempty"`
	Detail        string     `json:"detail,omitempty"`
}

func (a alertOut) source() string {
	if a.SourceHost != "" {
		return a.Source + " (" + a.SourceHost + ")"
	}
	return a.Source
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func newAlert() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alert",
		Short: "Sentinel alerts on a server: list, show and close them",
		Long: `When a machine sends a snapshot that its ransomware detector (Sentinel) judged
suspect or infected, the server opens an alert: it is in the audit trail,
sent to the tenant's notification channels (` + "`rempart tenant notify`" + `), and
it freezes the tenant's retention: no snapshot of that tenant expires while
an alert is open, so the last clean restore point cannot vanish.

Each alert names the last clean snapshot of the same machine before the
infected one: restore from it. Closing an alert (an operator or the tenant's
admin, with a note saying what was done) lets retention apply again; it is
written to the audit trail.`,
		Example: `  rempart alert list
  rempart alert list --tenant mairie-a --all
  rempart alert show 3
  rempart alert close 3 --note "PC reinstalled, files restored from the clean snapshot"`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(newAlertList(), newAlertShow(), newAlertClose())
	return cmd
}

func newAlertList() *cobra.Command {
	var tenant string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--tenant NAME] [--all]",
		Short: "List open alerts (--all: closed ones too)",
		Long: `List the Sentinel alerts you may see: operators and server-wide auditors see
every tenant's, tenant admins and tenant auditors their own tenant's. Open
alerts only, unless --all.`,
		Example: `  rempart alert list
  rempart alert list --tenant mairie-a --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if tenant != "" {
				q.Set("tenant", tenant)
			}
			if all {
				q.Set("state", "all")
			}
			path := "/v1/alerts"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var list []alertOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			if len(list) == 0 {
				if all {
					say("No alert.")
				} else {
					say("No open alert. (Closed ones: rempart alert list --all)")
				}
				return nil
			}
			fmt.Printf("%-5s %-16s %-7s %-9s %-12s %-16s %-24s %s\n", "ID", "TENANT", "STATE", "VERDICT", "SNAPSHOT", "OPENED", "SOURCE", "CLEAN RESTORE POINT")
			open := 0
			for _, a := range list {
				clean := "none"
				if a.CleanSnapshot != "" {
					clean = shortID(a.CleanSnapshot)
					if a.State == "open" {
						clean += " (frozen)"
					}
				}
				if a.State == "open" && a.Kind != "drill" {
					open++
				}
				if a.Kind == "drill" {
					clean = "-"
				}
				fmt.Printf("%-5d %-16s %-7s %-9s %-12s %-16s %-24s %s\n", a.ID, a.Tenant, a.State, a.Verdict, shortID(a.Snapshot),
					localTime(a.Opened), a.source(), clean)
			}
			if open > 0 {
				say("\n%d open alert(s): the retention of their tenants expires nothing until they are closed.\nNext: rempart alert show ID; restore from the clean restore point; then rempart alert close ID --note TEXT", open)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's alerts")
	cmd.Flags().BoolVar(&all, "all", false, "closed alerts too")
	return cmd
}

func alertPath(id string) (string, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		return "", usagef("alert ID %q: use the number shown by `rempart alert list`", id)
	}
	return "/v1/alerts/" + id, nil
}

func newAlertShow() *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show one alert, its clean restore point and what to do next",
		Example: `  rempart alert show 3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := alertPath(args[0])
			if err != nil {
				return err
			}
			var a alertOut
			sv, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &a)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			if a.Kind == "drill" {
				printDrillAlert(a)
				return nil
			}
			fmt.Printf("Alert:     %d (%s)\n", a.ID, a.State)
			fmt.Printf("Tenant:    %s\n", a.Tenant)
			fmt.Printf("Verdict:   %s\n", strings.ToUpper(a.Verdict))
			fmt.Printf("Snapshot:  %s\n", a.Snapshot)
			fmt.Printf("Sent by:   %s\n", a.source())
			fmt.Printf("Received:  %s\n", localTime(a.Opened))
			if a.CleanSnapshot != "" {
				at := ""
				if a.CleanReceived != nil {
					at = ", received " + localTime(*a.CleanReceived)
				}
				fmt.Printf("Last clean snapshot of this machine: %s%s\n", a.CleanSnapshot, at)
			} else {
				fmt.Println("Last clean snapshot of this machine: none before this one")
			}
			if a.Closed != nil {
				fmt.Printf("Closed:    %s by %s\nNote:      %s\n", localTime(*a.Closed), a.ClosedBy, a.CloseNote)
				return nil
			}
			repo := sv.URL + "/" + a.Tenant
			restore := "rempart restore " + a.CleanSnapshot + " --repo " + repo + " --target DIR"
			if a.CleanSnapshot == "" {
				restore = "rempart snapshots --repo " + repo + "   # pick a snapshot from before the attack"
			}
			fmt.Printf(`
While this alert is open, no snapshot of %s expires.
What to do next:
  1. Take %s off the network (do not power it off if it will be examined).
  2. Restore from the clean snapshot, onto a clean machine:
       %s
  3. Once the incident is handled, close the alert with a note (audited):
       rempart alert close %d --note "what was done"
`, a.Tenant, a.source(), restore, a.ID)
			return nil
		},
	}
}

func newAlertClose() *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "close ID --note TEXT",
		Short: "Close an alert (operator or the tenant's admin): retention applies again",
		Long: `Close a Sentinel alert once the incident is handled. Only an operator or the
admin of the alert's tenant may; the note (required) says what was done and
goes to the audit trail with who closed it. An alert is closed once.

When a tenant has no open alert left, its retention policy applies again at
the next collection: snapshots it does not keep are removed.`,
		Example: `  rempart alert close 3 --note "PC reinstalled, files restored from 9f8e7d6c5b4a"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := alertPath(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(note) == "" {
				return usagef("say what was done with --note TEXT (it goes to the audit trail), e.g. --note \"PC reinstalled, files restored\"")
			}
			var a alertOut
			if _, err := adminCall(cmd.Context(), http.MethodPost, path+"/close", map[string]string{"note": note}, &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			say("Closed alert %d of %s. Its retention applies again at the next collection, unless another alert of %s is open (rempart alert list --tenant %s).",
				a.ID, a.Tenant, a.Tenant, a.Tenant)
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what was done (required; audited)")
	return cmd
}

// notifyTest is the answer of POST /v1/tenants/{t}/notifications/test.
type notifyTest struct {
	Tenant  string `json:"tenant"`
	Failed  int    `json:"failed"`
	Results []struct {
		Channel string `json:"channel"`
		Target  string `json:"target"`
		OK      bool   `json:"ok"`
		Error   string `json:"error,omitempty"`
	} `json:"results"`
}

// notifyView mirrors the server's masked settings.
type notifyView struct {
	Tenant  string `json:"tenant"`
	Webhook *struct {
		URL            string `json:"url"`
		SecretSet      bool   `json:"secret_set"`
		CustomCA       bool   `json:"custom_ca"`
		TimeoutSeconds int    `json:"timeout_seconds"`
	} `json:"webhook,omitempty"`
	Syslog *struct {
		Network string `json:"network"`
		Address string `json:"address"`
	} `json:"syslog,omitempty"`
	Email *struct {
		Server         string   `json:"server"`
		Username       string   `json:"username,omitempty"`
		PasswordSet    bool     `json:"password_set"`
		From           string   `json:"from"`
		To             []string `json:"to"`
		AllowPlaintext bool     `json:"allow_plaintext"`
		CustomCA       bool     `json:"custom_ca"`
	} `json:"email,omitempty"`
	Test *notifyTest `json:"test,omitempty"`
}

func newTenantNotify() *cobra.Command {
	var webhook, webhookSecretFile, webhookCAFile, syslogURL string
	var smtpServer, smtpUser, smtpPasswordFile, smtpCAFile, mailFrom string
	var mailTo, off []string
	var allowPlain, test bool
	cmd := &cobra.Command{
		Use:   "notify NAME [--webhook URL] [--syslog udp://HOST:PORT] [--smtp HOST:PORT ...] [--test]",
		Short: "Show or set where a tenant's Sentinel alerts are sent: webhook, syslog, e-mail",
		Long: `Show or set the channels that receive a tenant's Sentinel alerts (and their
closing). Without a flag, show them. Channels not named stay as they are;
--off CHANNEL turns one off. Operators and the tenant's admin may change
them (audited); secrets are kept on the server and never shown again.

Webhook: each event is POSTed as JSON. With --webhook-secret-file, the body
is signed: header X-Rempart-Signature: sha256=HEX, the HMAC-SHA256 of the
body under the secret (check it on the receiving side). A receiver whose
certificate comes from a private CA: --webhook-ca-file CA.pem. Failed
deliveries are retried 3 times.

Syslog: one RFC 5424 message per event, over UDP or TCP (octet-counting
framing), facility local0, APP-NAME "rempart".

E-mail: plain text in French and English, through your SMTP server. STARTTLS
is used when offered and required unless --smtp-allow-plaintext (a relay on
a trusted network). --smtp-user with --smtp-password-file authenticates
(AUTH PLAIN, only over TLS). --smtp-ca-file trusts a private CA.

Secrets are read from files (first line), never from the command line.
Changing a channel's other settings keeps its secret; to drop a secret,
turn the channel off (--off webhook) and set it again without one.
--test sends a test message to each channel and reports each one (exit 1
when one fails).`,
		Example: `  rempart tenant notify mairie-a
  openssl rand -hex 32 > soc.secret
  rempart tenant notify mairie-a --webhook https://soc.example.org/rempart --webhook-secret-file soc.secret --test
  rempart tenant notify mairie-a --syslog udp://10.0.0.5:514
  rempart tenant notify mairie-a --smtp smtp.mairie-a.fr:587 --smtp-user alertes --smtp-password-file smtp.pw \
      --mail-from rempart@mairie-a.fr --mail-to dsi@mairie-a.fr,astreinte@mairie-a.fr --test
  rempart tenant notify mairie-a --off syslog --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			path := "/v1/tenants/" + url.PathEscape(args[0]) + "/notifications"
			var cur notifyView
			sv, err := adminCall(ctx, http.MethodGet, path, nil, &cur)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			change := map[string]any{}
			for _, ch := range off {
				switch ch = strings.ToLower(strings.TrimSpace(ch)); ch {
				case "webhook", "syslog":
					change[ch] = nil
				case "email", "e-mail", "smtp", "mail":
					change["email"] = nil
				default:
					return usagef("--off %q: give webhook, syslog or email", ch)
				}
			}
			if f.Changed("webhook") || f.Changed("webhook-secret-file") || f.Changed("webhook-ca-file") {
				w := map[string]any{}
				switch {
				case f.Changed("webhook"):
					w["url"] = webhook
				case cur.Webhook != nil:
					w["url"], w["timeout_seconds"] = cur.Webhook.URL, cur.Webhook.TimeoutSeconds
				default:
					return usagef("no webhook is set for %s: give its address with --webhook URL", args[0])
				}
				if f.Changed("webhook-secret-file") {
					secret, err := ui.ReadPasswordFile(webhookSecretFile)
					if err != nil {
						return usagef("--webhook-secret-file: %v", err)
					}
					w["secret"] = strings.TrimSpace(secret)
				}
				if f.Changed("webhook-ca-file") {
					b, err := os.ReadFile(webhookCAFile)
					if err != nil {
						return usagef("--webhook-ca-file: %v", err)
					}
					w["ca_pem"] = string(b)
				}
				change["webhook"] = w
			}
			if f.Changed("syslog") {
				u, err := url.Parse(syslogURL)
				if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" {
					return usagef("--syslog %q: use udp://HOST:PORT or tcp://HOST:PORT (e.g. udp://10.0.0.5:514)", syslogURL)
				}
				change["syslog"] = map[string]string{"network": u.Scheme, "address": u.Host}
			}
			smtpFlags := []string{"smtp", "smtp-user", "smtp-password-file", "smtp-ca-file", "smtp-allow-plaintext", "mail-from", "mail-to"}
			if anyChanged(cmd, smtpFlags...) {
				m := map[string]any{}
				if cur.Email != nil {
					m["server"], m["username"], m["from"], m["to"], m["allow_plaintext"] =
						cur.Email.Server, cur.Email.Username, cur.Email.From, cur.Email.To, cur.Email.AllowPlaintext
				} else if !f.Changed("smtp") || !f.Changed("mail-from") || !f.Changed("mail-to") {
					return usagef("no e-mail is set for %s yet: give at least --smtp HOST:PORT, --mail-from ADDRESS and --mail-to ADDRESS[,ADDRESS]", args[0])
				}
				if f.Changed("smtp") {
					m["server"] = smtpServer
				}
				if f.Changed("smtp-user") {
					m["username"] = smtpUser
					if smtpUser == "" {
						m["password"] = ""
					}
				}
				if f.Changed("smtp-password-file") {
					pw, err := ui.ReadPasswordFile(smtpPasswordFile)
					if err != nil {
						return usagef("--smtp-password-file: %v", err)
					}
					m["password"] = pw
				}
				if f.Changed("smtp-ca-file") {
					b, err := os.ReadFile(smtpCAFile)
					if err != nil {
						return usagef("--smtp-ca-file: %v", err)
					}
					m["ca_pem"] = string(b)
				}
				if f.Changed("smtp-allow-plaintext") {
					m["allow_plaintext"] = allowPlain
				}
				if f.Changed("mail-from") {
					m["from"] = mailFrom
				}
				if f.Changed("mail-to") {
					m["to"] = mailTo
				}
				change["email"] = m
			}
			out := cur
			if len(change) > 0 {
				out = notifyView{}
				if err := call(ctx, sv, sv.Admin.Token, http.MethodPut, path, change, &out); err != nil {
					var ae *apiError
					if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
						return fmt.Errorf("%w\nNothing was changed; fix the flag and run the command again (see `rempart tenant notify --help`)", err)
					}
					return err
				}
			}
			var testErr error
			if test {
				var res notifyTest
				if err := call(ctx, sv, sv.Admin.Token, http.MethodPost, path+"/test", nil, &res); err != nil {
					return err
				}
				out.Test = &res
				if res.Failed > 0 {
					testErr = fmt.Errorf("%d of %d channel(s) failed the test: fix the settings (or the receiver) and run `rempart tenant notify %s --test` again", res.Failed, len(res.Results), args[0])
				}
			}
			if g.json {
				if err := printJSON(out); err != nil {
					return err
				}
				return testErr
			}
			printNotify(out, len(change) > 0)
			return testErr
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&webhook, "webhook", "", "POST alerts as JSON to this https:// (or http://) URL")
	fl.StringVar(&webhookSecretFile, "webhook-secret-file", "", "file whose first line is the shared secret that signs each body (16 characters or more)")
	fl.StringVar(&webhookCAFile, "webhook-ca-file", "", "PEM file of the private CA of the receiver's certificate")
	fl.StringVar(&syslogURL, "syslog", "", "send RFC 5424 messages to udp://HOST:PORT or tcp://HOST:PORT")
	fl.StringVar(&smtpServer, "smtp", "", "SMTP server HOST:PORT (587 for submission with STARTTLS)")
	fl.StringVar(&smtpUser, "smtp-user", "", "SMTP user name (with --smtp-password-file); \"\" for none")
	fl.StringVar(&smtpPasswordFile, "smtp-password-file", "", "file whose first line is the SMTP password")
	fl.StringVar(&smtpCAFile, "smtp-ca-file", "", "PEM file of the private CA of the SMTP server's certificate")
	fl.BoolVar(&allowPlain, "smtp-allow-plaintext", false, "send without TLS when the SMTP server offers no STARTTLS (trusted network only)")
	fl.StringVar(&mailFrom, "mail-from", "", "sender address (e.g. rempart@mairie-a.fr)")
	fl.StringSliceVar(&mailTo, "mail-to", nil, "recipient addresses, comma-separated")
	fl.StringSliceVar(&off, "off", nil, "turn channels off: webhook, syslog, email")
	fl.BoolVar(&test, "test", false, "send a test message to each channel and report")
	return cmd
}

func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

func printNotify(v notifyView, changed bool) {
	if changed {
		say("Saved (audited). Secrets stay on the server and are never shown.")
	}
	fmt.Printf("Notifications of %s:\n", v.Tenant)
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	if w := v.Webhook; w != nil {
		fmt.Printf("  webhook  %s (signed: %s, private CA: %s, timeout %d s)\n", w.URL, yes(w.SecretSet), yes(w.CustomCA), w.TimeoutSeconds)
	}
	if l := v.Syslog; l != nil {
		fmt.Printf("  syslog   %s://%s (RFC 5424)\n", l.Network, l.Address)
	}
	if m := v.Email; m != nil {
		tls := "STARTTLS required"
		if m.AllowPlaintext {
			tls = "STARTTLS when offered, else plain text"
		}
		auth := "no authentication"
		if m.Username != "" {
			auth = "as " + m.Username
			if !m.PasswordSet {
				auth += " (no password set!)"
			}
		}
		fmt.Printf("  e-mail   %s, %s, %s, from %s to %s\n", m.Server, tls, auth, m.From, strings.Join(m.To, ", "))
	}
	if v.Webhook == nil && v.Syslog == nil && v.Email == nil {
		fmt.Printf("  none: alerts are only in `rempart alert list` and the audit trail.\n  Add one, e.g.: rempart tenant notify %s --webhook https://soc.example.org/rempart --webhook-secret-file FILE --test\n", v.Tenant)
	}
	if t := v.Test; t != nil {
		fmt.Println("Test:")
		for _, r := range t.Results {
			if r.OK {
				fmt.Printf("  %-8s ok     %s\n", r.Channel, r.Target)
			} else {
				fmt.Printf("  %-8s FAILED %s: %s\n", r.Channel, r.Target, r.Error)
			}
		}
	}
}

// printDrillAlert shows the alert of a failed or slow restore drill.
func printDrillAlert(a alertOut) {
	fmt.Printf("Alert:     %d (%s), restore drill %d\n", a.ID, a.State, a.DrillID)
	fmt.Printf("Tenant:    %s\n", a.Tenant)
	fmt.Printf("Service:   %s\n", a.Service)
	fmt.Printf("Result:    %s\n", strings.ToUpper(a.Verdict))
	fmt.Printf("Why:       %s\n", a.Detail)
	fmt.Printf("Sent by:   %s\n", a.Source)
	fmt.Printf("Opened:    %s\n", localTime(a.Opened))
	if a.Closed != nil {
		fmt.Printf("Closed:    %s by %s\nNote:      %s\n", localTime(*a.Closed), a.ClosedBy, a.CloseNote)
		return
	}
	fmt.Printf(`
A real recovery of %s could fail or take longer than its RTO. This alert
does not freeze retention.
What to do next:
  1. Read the evidence: rempart drill show %d --tenant %s
  2. Fix the cause (damaged storage: rempart check --read-data; a slow
     restore: faster storage or a longer RTO in the plan; a failing health check)
  3. Run the drill again: rempart drill run %s
  4. Close the alert with a note (audited): rempart alert close %d --note "what was done"
`, a.Service, a.DrillID, a.Tenant, a.Service, a.ID)
}
