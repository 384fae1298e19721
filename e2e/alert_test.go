package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/server/pki"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// hookDelivery is one POST the webhook receiver got.
type hookDelivery struct {
	body      []byte
	signature string
	event     map[string]any
}

// webhookReceiver is a town's SOC endpoint over HTTPS with a certificate
// of its own private CA.
type webhookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hookDelivery
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	h := &webhookReceiver{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := hookDelivery{body: b, signature: r.Header.Get("X-Rempart-Signature")}
		_ = json.Unmarshal(b, &d.event)
		h.mu.Lock()
		h.got = append(h.got, d)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// events returns the deliveries of one kind of event.
func (h *webhookReceiver) events(kind string) []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookDelivery
	for _, d := range h.got {
		if d.event["event"] == kind {
			out = append(out, d)
		}
	}
	return out
}

// waitFor polls until cond holds or 20 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentRepo opens the tenant's repository with the agent's saved
// credentials and pinned CA, as the CLI does.
func agentRepo(t *testing.T, agent *env, repoURL, tenant string) (*repo.Repository, *http.Client, string) {
	t.Helper()
	st, err := clientconf.LoadFile(filepath.Join(agent.home, ".config", "rempart", clientconf.FileName))
	if err != nil {
		t.Fatal(err)
	}
	sv := st.Server(repoURL)
	if sv == nil || sv.Agents[tenant] == nil {
		t.Fatalf("the agent's state has no credentials for %s", repoURL)
	}
	fp, err := pki.ParseFingerprint(sv.CAFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pki.ClientTLSConfig(fp, []byte(sv.CAPEM), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute}
	t.Cleanup(client.CloseIdleConnections)
	be, err := remote.New(repoURL, sv.Agents[tenant].Token, client)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), be, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return r, client, sv.Agents[tenant].Token
}

type alertListJSON []struct {
	ID            int64  `json:"id"`
	Tenant        string `json:"tenant"`
	State         string `json:"state"`
	Verdict       string `json:"verdict"`
	Snapshot      string `json:"snapshot"`
	SourceHost    string `json:"source_host"`
	CleanSnapshot string `json:"clean_snapshot"`
	ClosedBy      string `json:"closed_by"`
	CloseNote     string `json:"close_note"`
}

// TestAlertEndToEnd: a town's tenant admin sends Sentinel alerts to the
// town's SOC webhook (signed, private CA) and syslog; a machine uploads a
// snapshot whose header says infected; the webhook gets one signed alert,
// the alert is listed open with the frozen clean snapshot, retention keeps
// every snapshot, the machine cannot close the alert, the tenant admin
// closes it with a note, and the audit trail has both.
func TestAlertEndToEnd(t *testing.T) {
	ctx := context.Background()
	op := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	srv := startServer(t, op, filepath.Join(t.TempDir(), "data"))
	op.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	op.ok("tenant", "create", "mairie-a")
	// First snapshot of each day, per machine, for 90 days: a second
	// snapshot the same day is expired by this policy.
	op.ok("tenant", "retention", "mairie-a", "--daily", "90d")
	var dsiAcct accountCreatedJSON
	op.okJSON(&dsiAcct, "account", "create", "dsi@mairie-a.fr", "--role", "tenant-admin", "--tenant", "mairie-a")
	dsi := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	dsi.with("REMPART_LOGIN_PASSWORD", dsiAcct.Password).ok("login", srv.url, "--user", "dsi@mairie-a.fr", "--ca-fingerprint", srv.fp)

	// The town's SOC: a webhook behind a private CA, and a syslog collector.
	hook := newWebhookReceiver(t)
	secret := "9f1c0d8e2b7a4c6d8e0f1a2b3c4d5e6f"
	secretFile, caFile := filepath.Join(dsi.home, "soc.secret"), filepath.Join(dsi.home, "soc-ca.pem")
	must(t, os.WriteFile(secretFile, []byte(secret+"\n"), 0o600))
	must(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw}), 0o644))
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer udp.Close()
	r := dsi.ok("tenant", "notify", "mairie-a", "--webhook", hook.URL+"/rempart", "--webhook-secret-file", secretFile,
		"--webhook-ca-file", caFile, "--syslog", "udp://"+udp.LocalAddr().String(), "--test")
	mustContain(t, "tenant notify --test", r.stdout, "webhook", "syslog", "ok", "signed: yes", "private CA: yes")
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Fatalf("tenant notify shows the secret:\n%s", r)
	}
	if tests := hook.events("test"); len(tests) != 1 {
		t.Fatalf("the webhook got %d test messages, want 1", len(tests))
	}
	var view map[string]any
	op.okJSON(&view, "tenant", "notify", "mairie-a")
	if raw, _ := json.Marshal(view); strings.Contains(string(raw), secret) || !strings.Contains(string(raw), `"secret_set":true`) {
		t.Errorf("tenant notify --json: %s", raw)
	}

	// A machine backs up twice the same day (text files only: nothing
	// looks encrypted).
	var enrol struct {
		Token string `json:"token"`
	}
	dsi.okJSON(&enrol, "agent", "enroll", "--tenant", "mairie-a")
	repoURL := srv.url + "/mairie-a"
	agent := newEnv(t).with("REMPART_REPO", repoURL)
	agent.ok("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", "pc-accueil")
	agent.initRepo()
	src := filepath.Join(agent.home, "partage")
	for i := range 12 {
		p := filepath.Join(src, "courrier", "lettre-"+strconv.Itoa(i)+".txt")
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(strings.Repeat("Madame, Monsieur, suite à votre demande du "+strconv.Itoa(i)+" mars. ", 40)), 0o644))
	}
	first := agent.backup(src).SnapshotID
	must(t, os.WriteFile(filepath.Join(src, "courrier", "lettre-0.txt"), []byte(strings.Repeat("Réponse au conseil municipal. ", 50)), 0o644))
	clean := agent.backup(src).SnapshotID

	// Then its files get encrypted: its client sends a snapshot whose
	// plain header says infected. (Crafted here with the engine, as the
	// client's detector would flag it.)
	rp, client, agentToken := agentRepo(t, agent, repoURL, "mairie-a")
	sn, err := rp.FindSnapshot(ctx, "latest")
	must(t, err)
	if sn.ID.String() != clean {
		t.Fatalf("latest snapshot %s, want %s", sn.ID, clean)
	}
	sn.Flag = snapshot.FlagInfected
	sn.Time = sn.Time.Add(time.Second)
	id, err := rp.SaveSnapshot(ctx, sn, sn.Packs)
	must(t, err)
	infected := id.String()

	// One signed alert reaches the webhook, naming the tenant and snapshot.
	waitFor(t, "the alert on the webhook", func() bool { return len(hook.events("alert.open")) > 0 })
	alerts := hook.events("alert.open")
	d := alerts[0]
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(d.body)
	if d.signature != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("webhook signature %q does not match the body", d.signature)
	}
	if d.event["tenant"] != "mairie-a" || d.event["snapshot"] != infected || d.event["verdict"] != "infected" ||
		d.event["clean_snapshot"] != clean || d.event["source_host"] != "pc-accueil" {
		t.Errorf("webhook alert: %s", d.body)
	}
	// Syslog too (after the test message).
	buf := make([]byte, 4096)
	var lines []string
	for len(lines) < 2 {
		must(t, udp.SetReadDeadline(time.Now().Add(20*time.Second)))
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("syslog: %v (got %q)", err, lines)
		}
		lines = append(lines, string(buf[:n]))
	}
	if !strings.HasPrefix(lines[1], "<129>1 ") || !strings.Contains(lines[1], " rempart ") || !strings.Contains(lines[1], `snapshot="`+infected+`"`) {
		t.Errorf("syslog alert: %q", lines[1])
	}

	// The alert is open and names the frozen clean snapshot.
	var list alertListJSON
	dsi.okJSON(&list, "alert", "list")
	if len(list) != 1 || list[0].State != "open" || list[0].Snapshot != infected || list[0].CleanSnapshot != clean ||
		list[0].Verdict != "infected" || list[0].Tenant != "mairie-a" {
		t.Fatalf("alert list --json: %+v", list)
	}
	alertID := strconv.FormatInt(list[0].ID, 10)
	r = op.ok("alert", "list")
	mustContain(t, "alert list", r.stdout, "mairie-a", "infected", "open", clean[:12]+" (frozen)")
	r = dsi.ok("alert", "show", alertID)
	mustContain(t, "alert show", r.stdout, "rempart restore "+clean, "rempart alert close "+alertID)
	// GET /v1/tenants/{t}/retention counts the open alerts.
	opState, err := clientconf.LoadFile(filepath.Join(op.home, ".config", "rempart", clientconf.FileName))
	must(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/v1/tenants/mairie-a/retention", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+opState.Server(srv.url).Admin.Token)
	resp, err := client.Do(req)
	must(t, err)
	var ret map[string]any
	must(t, json.NewDecoder(resp.Body).Decode(&ret))
	resp.Body.Close()
	if ret["open_alerts"] != 1.0 {
		t.Errorf("GET retention: open_alerts = %v", ret["open_alerts"])
	}
	r = op.ok("tenant", "retention", "mairie-a")
	mustContain(t, "tenant retention with an open alert", r.stdout, "Frozen:", "1 open Sentinel alert")

	// Retention keeps every snapshot, frozen, even the one the policy
	// expires.
	var gc gcJSON
	op.okJSON(&gc, "tenant", "gc", "mairie-a", "--dry-run")
	if gc.SnapshotsDeleted != 0 || gc.SnapshotsKept != 3 || len(gc.Snapshots) != 3 {
		t.Fatalf("gc --dry-run with the alert open: %+v", gc)
	}
	for _, s := range gc.Snapshots {
		if !s.Keep || !slices.ContainsFunc(s.Reasons, func(r string) bool { return strings.Contains(r, "frozen") }) {
			t.Errorf("snapshot kept %v for %v, want a \"frozen\" reason", s.Keep, s.Reasons)
		}
	}

	// The machine cannot close the alert: not with the CLI (no admin
	// session), not with its token.
	r = agent.run("alert", "close", alertID, "--note", "nothing to see")
	if r.code == 0 {
		t.Fatalf("an agent closed the alert\n%s", r)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/v1/alerts/"+alertID+"/close", strings.NewReader(`{"note":"nothing to see"}`))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err = client.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an agent's token closing the alert: %d, want 403", resp.StatusCode)
	}
	r = dsi.expect(2, "alert", "close", alertID)
	mustContain(t, "alert close without a note", r.stderr, "--note")

	// The tenant admin closes it with a note; once.
	note := "PC d'accueil réinstallé, fichiers restaurés depuis " + clean[:12]
	var closed struct {
		State     string `json:"state"`
		ClosedBy  string `json:"closed_by"`
		CloseNote string `json:"close_note"`
	}
	dsi.okJSON(&closed, "alert", "close", alertID, "--note", note)
	if closed.State != "closed" || closed.ClosedBy != "account:dsi@mairie-a.fr" || closed.CloseNote != note {
		t.Errorf("alert close --json: %+v", closed)
	}
	r = op.expect(1, "alert", "close", alertID, "--note", "again")
	mustContain(t, "closing twice", r.stderr, "already closed")
	waitFor(t, "the closing on the webhook", func() bool { return len(hook.events("alert.closed")) > 0 })
	if n := len(hook.events("alert.open")); n != 1 {
		t.Errorf("the webhook got %d alert messages, want 1", n)
	}

	// The policy applies again: the second snapshot of the day goes.
	op.okJSON(&gc, "tenant", "gc", "mairie-a", "--dry-run")
	if gc.SnapshotsDeleted != 1 || gc.SnapshotsKept != 2 {
		t.Errorf("gc --dry-run after closing: %+v", gc)
	}
	_ = first

	// The audit trail has the opening (by the server) and the closing
	// (by the tenant admin, with the note).
	var trail auditJSON
	op.okJSON(&trail, "audit", "--tenant", "mairie-a")
	opened, closedRec := false, false
	for _, rec := range trail.Records {
		switch {
		case rec.Action == "sentinel.alert.open" && rec.Actor == "server" && rec.Detail["snapshot"] == infected:
			opened = true
		case rec.Action == "sentinel.alert.close" && rec.Actor == "account:dsi@mairie-a.fr" && rec.Detail["note"] == note:
			closedRec = true
		}
		if raw, _ := json.Marshal(rec.Detail); strings.Contains(string(raw), secret) {
			t.Errorf("the audit trail holds the webhook secret: %s %s", rec.Action, raw)
		}
	}
	if !opened || !closedRec || !trail.Chain.Intact {
		t.Errorf("audit trail: open %v, close %v, chain intact %v", opened, closedRec, trail.Chain.Intact)
	}
}
