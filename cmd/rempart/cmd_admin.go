package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/server/pki"
	"github.com/rempart/rempart/internal/ui"
)

// serverFlag is --server URL of the administration commands.
var serverFlag string

// pinnedClient is an HTTP client that trusts only the server's pinned CA.
func pinnedClient(sv *clientconf.Server) (*http.Client, error) {
	fp, err := pki.ParseFingerprint(sv.CAFingerprint)
	if err != nil {
		return nil, fmt.Errorf("stored CA fingerprint of %s: %w", sv.URL, err)
	}
	u, err := url.Parse(sv.URL)
	if err != nil {
		return nil, fmt.Errorf("stored server address %q: %w", sv.URL, err)
	}
	var caPEM []byte
	if sv.CAPEM != "" {
		caPEM = []byte(sv.CAPEM)
	}
	tc, err := pki.ClientTLSConfig(fp, caPEM, u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", sv.URL, err)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}}, nil
}

// trust decides which CA to pin for a server: the stored pin, the
// --ca-fingerprint given, or (on a terminal) the one the user confirms.
func trust(ctx context.Context, st *clientconf.State, rawURL, fpFlag string) (*clientconf.Server, error) {
	key, base, err := clientconf.Key(rawURL)
	if err != nil {
		return nil, usageError{err}
	}
	known := st.Servers[key]
	if fpFlag == "" && known != nil && known.CAFingerprint != "" {
		return known, nil
	}
	var want pki.Fingerprint
	if fpFlag != "" {
		if want, err = pki.ParseFingerprint(fpFlag); err != nil {
			return nil, usagef("--ca-fingerprint: %v", err)
		}
	}
	ca, err := pki.FetchCA(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server at %s: %w", base, err)
	}
	switch {
	case fpFlag != "":
		if !ca.Fingerprint.Equal(want) {
			return nil, fmt.Errorf("REFUSED: the server at %s presents CA fingerprint\n  %s\nbut you expect\n  %s\nSomeone may be intercepting the connection, or the fingerprint was mistyped. Compare with the one printed by `rempart server` at start: %w",
				base, ca.Fingerprint, want, pki.ErrFingerprintMismatch)
		}
	case ui.IsTerminal(os.Stdin):
		fmt.Fprintf(os.Stderr, "The server at %s presents this CA fingerprint (SHA-256):\n  %s\nCompare it with the one `rempart server` printed at start. Trust it? [y/N] ", base, ca.Fingerprint)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return nil, errors.New("not trusted: nothing was saved")
		}
	default:
		return nil, usagef("cannot confirm the identity of the server at %s without a terminal: pass --ca-fingerprint with the fingerprint printed by `rempart server` at start (or by `rempart agent enroll`); do not copy it from the connection itself", base)
	}
	sv, _ := st.Put(base)
	if sv.CAFingerprint != "" && sv.CAFingerprint != ca.Fingerprint.String() {
		// An explicit new pin replaces the old one: the old sessions were
		// for another CA and are dropped.
		sv.Admin, sv.Agents = nil, nil
	}
	sv.CAFingerprint = ca.Fingerprint.String()
	sv.CAPEM = string(ca.PEM)
	return sv, nil
}

// apiError is an answer of the server's administration API that is not 2xx.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("the server refused (%d): %s", e.Status, e.Msg) }

// call sends a JSON request to the administration API and decodes the answer.
func call(ctx context.Context, sv *clientconf.Server, token, method, path string, in, out any) error {
	_, err := callStatus(ctx, sv, token, method, path, in, out)
	return err
}

// callStatus is call that also returns the answer's status; an empty
// answer (204 No Content) leaves out alone.
func callStatus(ctx context.Context, sv *clientconf.Server, token, method, path string, in, out any) (int, error) {
	client, err := pinnedClient(sv)
	if err != nil {
		return 0, err
	}
	defer client.CloseIdleConnections()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, sv.URL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the server at %s: %w", sv.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the answer of %s: %w", sv.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return resp.StatusCode, &apiError{resp.StatusCode, e.Error}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("unexpected answer from %s: %w", sv.URL, err)
		}
	}
	return resp.StatusCode, nil
}

// adminServer finds the server of the administration commands: --server,
// or the only one signed in to.
func adminServer() (*clientconf.State, *clientconf.Server, error) {
	st, err := clientconf.Load()
	if err != nil {
		return nil, nil, err
	}
	if serverFlag != "" {
		sv := st.Server(serverFlag)
		if sv == nil || !sv.Admin.Valid(time.Now()) {
			return nil, nil, fmt.Errorf("not signed in to %s (or the session expired): run `rempart login %s --user NAME`", serverFlag, serverFlag)
		}
		return st, sv, nil
	}
	var found []*clientconf.Server
	for _, k := range st.Keys() {
		if sv := st.Servers[k]; sv.Admin.Valid(time.Now()) {
			found = append(found, sv)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil, errors.New("not signed in to any server (or the session expired): run `rempart login https://HOST:PORT --user NAME`")
	case 1:
		return st, found[0], nil
	}
	var urls []string
	for _, sv := range found {
		urls = append(urls, sv.URL)
	}
	return nil, nil, usagef("signed in to several servers (%s): say which one with --server URL", strings.Join(urls, ", "))
}

func adminCall(ctx context.Context, method, path string, in, out any) (*clientconf.Server, error) {
	_, sv, err := adminServer()
	if err != nil {
		return nil, err
	}
	return sv, call(ctx, sv, sv.Admin.Token, method, path, in, out)
}

func newLogin() *cobra.Command {
	var user, totp, fp, token string
	cmd := &cobra.Command{
		Use:   "login URL",
		Short: "Sign in to a backup server as an administrator (session of 12 hours)",
		Long: `Sign in to a Rempart server. The password comes from REMPART_LOGIN_PASSWORD,
--password-file FILE, or a prompt; --totp CODE gives the one-time code when the
account has a second factor.

The first time, the server's identity is checked: give --ca-fingerprint with
the fingerprint that ` + "`rempart server`" + ` printed at start, or confirm it on the
terminal. It is then pinned: a server presenting another CA is refused.
The session is kept in ~/.config/rempart (readable by you only).

Scripts sign in with an API token (` + "`rempart token create`" + `) instead of a
password: from REMPART_TOKEN (preferred: a flag shows in ps) or --token.`,
		Example: `  rempart login https://backup.mairie.local:8443 --user admin
  REMPART_LOGIN_PASSWORD=... rempart login https://10.0.0.5:8443 --user admin --ca-fingerprint 3F:A2:...
  REMPART_TOKEN=rmpt_... rempart login https://10.0.0.5:8443 --ca-fingerprint 3F:A2:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if token != "" && user != "" {
				return usagef("give --user NAME (password) or --token (API token), not both")
			}
			if token == "" && user == "" {
				token = os.Getenv("REMPART_TOKEN")
			}
			if token != "" {
				return loginWithToken(ctx, args[0], fp, token)
			}
			if user == "" {
				return usagef("say who signs in with --user NAME, or give an API token in REMPART_TOKEN")
			}
			pw := os.Getenv("REMPART_LOGIN_PASSWORD")
			var err error
			if pw == "" && cmd.Flags().Changed("password-file") {
				if pw, err = ui.ReadPasswordFile(g.passwordFile); err != nil {
					return err
				}
			}
			if pw == "" {
				if pw, err = ui.Prompt("Password for " + user + ": "); err != nil {
					return usagef("no password given: set REMPART_LOGIN_PASSWORD, use --password-file FILE, or run in a terminal")
				}
			}
			st, err := clientconf.Load()
			if err != nil {
				return err
			}
			sv, err := trust(ctx, st, args[0], fp)
			if err != nil {
				return err
			}
			var out struct {
				Token   string    `json:"token"`
				Expires time.Time `json:"expires"`
				Role    string    `json:"role"`
				Tenant  string    `json:"tenant"`
			}
			if err := call(ctx, sv, "", http.MethodPost, "/v1/login", map[string]string{"username": user, "password": pw, "totp": totp}, &out); err != nil {
				return err
			}
			sv.Admin = &clientconf.Session{Username: user, Token: out.Token, Expires: out.Expires, Role: out.Role, Tenant: out.Tenant}
			if err := st.Save(); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"server": sv.URL, "username": user, "role": out.Role, "tenant": out.Tenant, "expires": out.Expires, "ca_fingerprint": sv.CAFingerprint})
			}
			say("Signed in to %s as %s (%s) until %s.", sv.URL, user, out.Role, out.Expires.Local().Format("2006-01-02 15:04"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "account name (e.g. admin)")
	f.StringVar(&totp, "totp", "", "one-time code of the account's authenticator app, when it has one")
	f.StringVar(&fp, "ca-fingerprint", "", "the server's CA fingerprint as printed by `rempart server`: pins it without asking")
	f.StringVar(&token, "token", "", "sign in with an API token (rmpt_...) instead of a password; REMPART_TOKEN is safer")
	return cmd
}

type tenantOut struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func newTenant() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Create and list tenants (one per town or service, each with its own repository), set their retention",
		Example: `  rempart tenant create mairie-a
  rempart tenant list --json
  rempart tenant retention mairie-a --keep-all 14d --daily 90d --weekly 1y --lock-days 30
  rempart tenant gc mairie-a --dry-run`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(&cobra.Command{
		Use:     "create NAME",
		Short:   "Create a tenant (operators only)",
		Example: `  rempart tenant create mairie-a`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t tenantOut
			sv, err := adminCall(cmd.Context(), http.MethodPost, "/v1/tenants", map[string]string{"name": args[0]}, &t)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(t)
			}
			say("Created tenant %s on %s. Its repository is %s/%s\nNext: rempart agent enroll --tenant %s", t.Name, sv.URL, sv.URL, t.Name, t.Name)
			return nil
		},
	}, &cobra.Command{
		Use:     "list",
		Short:   "List the tenants you may see",
		Example: `  rempart tenant list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []tenantOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, "/v1/tenants", nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			for _, t := range list {
				fmt.Printf("%-24s created %s\n", t.Name, t.Created.Local().Format("2006-01-02 15:04"))
			}
			if len(list) == 0 {
				say("No tenants yet: create one with `rempart tenant create NAME`.")
			}
			return nil
		},
	}, newTenantRetention(), newTenantGC(), newTenantNotify())
	return cmd
}

type agentOut struct {
	ID      int64      `json:"id"`
	Tenant  string     `json:"tenant"`
	Host    string     `json:"host"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

func newAgent() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Enrol, list and revoke the machines that back up into a tenant",
		Long: `Machines ("agents") back up into one tenant with their own token. They can add
backups and read them back, never delete or change them.

On the administrator's machine:   rempart agent enroll --tenant mairie-a
On the machine to protect:        rempart agent join URL TOKEN --ca-fingerprint FP
Then, on that machine:            rempart init --repo URL/mairie-a; rempart backup --repo URL/mairie-a /srv`,
		Example: `  rempart agent enroll --tenant mairie-a --ttl 2h
  rempart agent list --tenant mairie-a
  rempart agent revoke 12`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(newAgentEnroll(), newAgentList(), newAgentRevoke(), newAgentJoin())
	return cmd
}

func newAgentEnroll() *cobra.Command {
	var tenant string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "enroll --tenant NAME",
		Short: "Create a one-time token for a new machine to join a tenant",
		Example: `  rempart agent enroll --tenant mairie-a
  rempart agent enroll --tenant mairie-a --ttl 2h --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("say which tenant with --tenant NAME (see `rempart tenant list`)")
			}
			var out struct {
				Token   string    `json:"token"`
				Expires time.Time `json:"expires"`
			}
			sv, err := adminCall(cmd.Context(), http.MethodPost, "/v1/tenants/"+url.PathEscape(tenant)+"/enrolments", map[string]int64{"ttl_seconds": int64(ttl / time.Second)}, &out)
			if err != nil {
				return err
			}
			join := fmt.Sprintf("rempart agent join %s %s --ca-fingerprint %s", sv.URL, out.Token, sv.CAFingerprint)
			if g.json {
				return printJSON(map[string]any{"token": out.Token, "expires": out.Expires, "tenant": tenant, "url": sv.URL,
					"ca_fingerprint": sv.CAFingerprint, "join_command": join, "repository": sv.URL + "/" + tenant})
			}
			fmt.Printf("One-time enrolment token for tenant %s (valid until %s):\n\n    %s\n\n", tenant, out.Expires.Local().Format("2006-01-02 15:04"), out.Token)
			fmt.Printf("On the machine to protect, run:\n\n    %s\n\nThen back it up with --repo %s/%s\n", join, sv.URL, tenant)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the machine will back up into")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token may be used (1m to 720h)")
	return cmd
}

func newAgentList() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:     "list --tenant NAME",
		Short:   "List a tenant's machines",
		Example: `  rempart agent list --tenant mairie-a`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("say which tenant with --tenant NAME")
			}
			var list []agentOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, "/v1/tenants/"+url.PathEscape(tenant)+"/agents", nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			for _, a := range list {
				state := "active"
				if a.Revoked != nil {
					state = "revoked " + a.Revoked.Local().Format("2006-01-02 15:04")
				}
				fmt.Printf("%-6d %-32s joined %s  %s\n", a.ID, a.Host, a.Created.Local().Format("2006-01-02 15:04"), state)
			}
			if len(list) == 0 {
				say("No machines in %s yet: `rempart agent enroll --tenant %s`.", tenant, tenant)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant")
	return cmd
}

func newAgentRevoke() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Stop a machine from using the server (its backups stay)",
		Long: `Revoke an agent: its token stops working at once. Its backups are kept. Use it
when a machine is lost, replaced or compromised.`,
		Example: `  rempart agent revoke 12`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return usagef("agent ID %q: use the number shown by `rempart agent list`", args[0])
			}
			var a agentOut
			if _, err := adminCall(cmd.Context(), http.MethodDelete, "/v1/agents/"+args[0], nil, &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			say("Revoked agent %d (%s) of tenant %s: it can no longer connect; its backups are kept.", a.ID, a.Host, a.Tenant)
			return nil
		},
	}
}

func newAgentJoin() *cobra.Command {
	var fp, host string
	cmd := &cobra.Command{
		Use:   "join URL TOKEN",
		Short: "Make this machine an agent of a tenant with a one-time enrolment token",
		Long: `Redeem an enrolment token (from ` + "`rempart agent enroll`" + `): this machine gets its own
token for the tenant, kept in ~/.config/rempart (readable by you only), and the
server's CA is pinned. The enrolment token cannot be used again.`,
		Example: `  rempart agent join https://backup.mairie.local:8443 rpe_... --ca-fingerprint 3F:A2:...
  rempart init --repo https://backup.mairie.local:8443/mairie-a`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if host == "" {
				h, err := os.Hostname()
				if err != nil || h == "" {
					return usagef("cannot tell this machine's name: pass --host NAME")
				}
				host = h
			}
			st, err := clientconf.Load()
			if err != nil {
				return err
			}
			sv, err := trust(ctx, st, args[0], fp)
			if err != nil {
				return err
			}
			var out struct {
				AgentID int64  `json:"agent_id"`
				Tenant  string `json:"tenant"`
				Token   string `json:"token"`
			}
			if err := call(ctx, sv, "", http.MethodPost, "/v1/enrol", map[string]string{"token": args[1], "host": host}, &out); err != nil {
				return err
			}
			if sv.Agents == nil {
				sv.Agents = map[string]*clientconf.Agent{}
			}
			sv.Agents[out.Tenant] = &clientconf.Agent{ID: out.AgentID, Tenant: out.Tenant, Token: out.Token, Host: host, Joined: time.Now().UTC()}
			if err := st.Save(); err != nil {
				return err
			}
			repoURL := sv.URL + "/" + out.Tenant
			if g.json {
				return printJSON(map[string]any{"agent_id": out.AgentID, "tenant": out.Tenant, "server": sv.URL, "repository": repoURL, "ca_fingerprint": sv.CAFingerprint})
			}
			say("This machine (%s) is now agent %d of tenant %s on %s.\nBack it up with:\n    export REMPART_REPO=%s\n    rempart init        # once; keep the recovery key on paper\n    rempart backup /srv /home", host, out.AgentID, out.Tenant, sv.URL, repoURL)
			return nil
		},
	}
	cmd.Flags().StringVar(&fp, "ca-fingerprint", "", "the server's CA fingerprint (printed by `rempart agent enroll` and `rempart server`)")
	cmd.Flags().StringVar(&host, "host", "", "name to register this machine under (default: its host name)")
	return cmd
}
