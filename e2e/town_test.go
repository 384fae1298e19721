package e2e

import (
	"path/filepath"
	"testing"
)

// The set-up the continuity scenarios share (plan, runbook, drill): a
// server, its operator, a town's admin and a machine of the town, each
// with a shell of their own, as they would be on their own computers.

// adminShell is a shell with no repository (REMPART_REPO and
// REMPART_PASSWORD unset): an operator or a town admin administers the
// server, they do not back up.
func adminShell(t *testing.T) *env {
	t.Helper()
	return newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
}

// login signs e in to srv as user, pinning the server's CA by the
// fingerprint it printed.
func (e *env) login(srv *testServer, user, password string) {
	e.t.Helper()
	e.with("REMPART_LOGIN_PASSWORD", password).ok("login", srv.url, "--user", user, "--ca-fingerprint", srv.fp)
}

// tenantAdmin has op create the account user as tenant's admin and
// returns that person's shell, signed in with the password the server
// generated.
func tenantAdmin(t *testing.T, op *env, srv *testServer, tenant, user string) *env {
	t.Helper()
	var acct accountCreatedJSON
	op.okJSON(&acct, "account", "create", user, "--role", "tenant-admin", "--tenant", tenant)
	e := adminShell(t)
	e.login(srv, user, acct.Password)
	return e
}

// twoTowns starts a server with two towns, mairie-a and mairie-b, each
// with its admin (dsi@mairie-a.fr, dsi@mairie-b.fr): the other town's
// admin is who must be refused. It returns the operator's shell, the
// server and the two admins' shells, all signed in.
func twoTowns(t *testing.T) (op *env, srv *testServer, dsi, other *env) {
	t.Helper()
	op = adminShell(t)
	srv = startServer(t, op, filepath.Join(t.TempDir(), "data"))
	op.login(srv, "admin", adminPassword)
	op.ok("tenant", "create", "mairie-a")
	op.ok("tenant", "create", "mairie-b")
	dsi = tenantAdmin(t, op, srv, "mairie-a", "dsi@mairie-a.fr")
	other = tenantAdmin(t, op, srv, "mairie-b", "dsi@mairie-b.fr")
	return op, srv, dsi, other
}

// joinAgent has admin enrol a machine of tenant, which joins as host and
// creates its repository on the server; it returns the machine's shell.
func joinAgent(t *testing.T, admin *env, srv *testServer, tenant, host string) *env {
	t.Helper()
	var enrol struct {
		Token string `json:"token"`
	}
	admin.okJSON(&enrol, "agent", "enroll", "--tenant", tenant)
	agent := newEnv(t).with("REMPART_REPO", srv.url+"/"+tenant)
	agent.ok("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", host)
	agent.initRepo()
	return agent
}
