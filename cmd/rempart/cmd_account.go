package main

// Account management on a Rempart server: `rempart account ...` (accounts,
// passwords, second factor) and `rempart token ...` (API tokens for
// scripts), and `rempart login --token`. Passwords never come from the
// command line, where other users of the machine could read them (ps,
// shell history): from the environment, a file, or a prompt.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"rsc.io/qr"

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/ui"
)

// accountOut is an account as GET /v1/accounts shows it.
type accountOut struct {
	Username    string     `json:"username"`
	Role        string     `json:"role"`
	Tenant      string     `json:"tenant,omitempty"`
	TOTPEnabled bool       `json:"totp_enabled"`
	TOTPPending bool       `json:"totp_pending,omitempty"`
	Disabled    bool       `json:"disabled"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	Created     time.Time  `json:"created"`
	LastLogin   *time.Time `json:"last_login,omitempty"`
	Password    string     `json:"password,omitempty"` // generated, shown once
}

// tokenOut is an API token as the server describes it.
type tokenOut struct {
	ID       int64      `json:"id"`
	Account  string     `json:"account,omitempty"`
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Current  bool       `json:"current,omitempty"`
	Token    string     `json:"token,omitempty"` // at creation only
	Role     string     `json:"role,omitempty"`
	Tenant   string     `json:"tenant,omitempty"`
}

// whoamiOut is the answer of GET /v1/account.
type whoamiOut struct {
	accountOut
	Token tokenOut `json:"token"`
}

// roleWords names a role for people.
func roleWords(role, tenant string) string {
	switch role {
	case "operator":
		return "operator"
	case "tenant_admin":
		return "tenant admin of " + tenant
	case "auditor":
		if tenant == "" {
			return "auditor of every tenant"
		}
		return "auditor of " + tenant
	case "coordinator":
		if tenant == "" {
			return "crisis coordinator of every tenant"
		}
		return "crisis coordinator of " + tenant
	}
	return role
}

func localTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

// currentPassword is the signed-in user's password, for the actions that
// ask for it again: REMPART_LOGIN_PASSWORD, --password-file, or a prompt.
func currentPassword(cmd *cobra.Command, user string) (string, error) {
	if pw := os.Getenv("REMPART_LOGIN_PASSWORD"); pw != "" {
		return pw, nil
	}
	if cmd.Flags().Changed("password-file") {
		return ui.ReadPasswordFile(g.passwordFile)
	}
	pw, err := ui.Prompt("Current password of " + user + ": ")
	if err != nil {
		return "", usagef("no password given: set REMPART_LOGIN_PASSWORD, use --password-file FILE, or run in a terminal")
	}
	return pw, nil
}

// newPassword reads a new password from REMPART_NEW_PASSWORD or file; ask
// prompts twice on a terminal when neither is given, otherwise "" is
// returned.
func newPassword(file string, ask bool) (string, error) {
	if pw := os.Getenv("REMPART_NEW_PASSWORD"); pw != "" {
		return pw, nil
	}
	if file != "" {
		return ui.ReadPasswordFile(file)
	}
	if !ask {
		return "", nil
	}
	pw, err := ui.Prompt("New password (12 characters or more): ")
	if err != nil {
		return "", usagef("no new password given: set REMPART_NEW_PASSWORD, use --new-password-file FILE, or run in a terminal")
	}
	again, err := ui.Prompt("Repeat the new password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", usagef("the two passwords differ: nothing was changed")
	}
	return pw, nil
}

// signedIn is the session of the administration commands.
func signedIn() (*clientconf.Server, error) {
	_, sv, err := adminServer()
	return sv, err
}

func newAccount() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Manage the people who administer the server: accounts, passwords, second factor",
		Long: `Accounts sign in to the server with ` + "`rempart login`" + `. Each has one role:

  operator        runs the server: every tenant, every account
  tenant admin    manages one tenant: enrols and revokes its machines, manages
                  its tenant admins and auditors, reads its audit trail
  auditor         reads the audit trail (of one tenant, or of every tenant) and
                  nothing else
  coordinator     creates and runs crisis rooms (of one tenant, or of any) in
                  the web app at /crisis/

Turn on a second factor (an authenticator app's one-time codes) for every
account with ` + "`rempart account totp enable`" + `. Every change is in the audit trail.`,
		Example: `  rempart account create dsi@mairie-a.fr --role tenant-admin --tenant mairie-a
  rempart account create controle --role auditor
  rempart account list
  rempart account totp enable
  rempart account password`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(newAccountCreate(), newAccountList(), newAccountDisable(), newAccountEnable(), newAccountResetPassword(),
		newAccountPassword(), newAccountWhoami(), newAccountTOTP())
	return cmd
}

func newAccountCreate() *cobra.Command {
	var role, tenant, passFile string
	cmd := &cobra.Command{
		Use:   "create NAME --role tenant-admin|auditor|coordinator|operator [--tenant T]",
		Short: "Create an account (operators: any; tenant admins: in their tenant)",
		Long: `Create an account. A tenant admin needs --tenant; an auditor without --tenant
reads every tenant's audit trail. Tenant admins create tenant admins and
auditors of their own tenant only (--tenant defaults to it). A coordinator
creates crisis rooms (docs/crisis-e2ee.md): with --tenant, for that tenant
only.

The password comes from REMPART_NEW_PASSWORD or --new-password-file; with
neither, the server generates a strong one and it is printed once: hand it
over safely and ask its owner to change it (` + "`rempart account password`" + `).`,
		Example: `  rempart account create dsi@mairie-a.fr --role tenant-admin --tenant mairie-a
  rempart account create controle-a --role auditor --tenant mairie-a
  rempart account create dgs@mairie-a.fr --role coordinator --tenant mairie-a
  REMPART_NEW_PASSWORD='their own long password' rempart account create ops2 --role operator
  rempart account create cnil --role auditor --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return usagef("say which role with --role tenant-admin, --role auditor, --role coordinator or --role operator")
			}
			pw, err := newPassword(passFile, false)
			if err != nil {
				return err
			}
			in := map[string]string{"username": args[0], "role": strings.ReplaceAll(role, "-", "_"), "tenant": tenant, "password": pw}
			var a accountOut
			sv, err := adminCall(cmd.Context(), http.MethodPost, "/v1/accounts", in, &a)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			fmt.Printf("Created account %s (%s).\n", a.Username, roleWords(a.Role, a.Tenant))
			if a.Password != "" {
				fmt.Printf("Its password, shown this once (hand it over safely; its owner changes it with `rempart account password`):\n\n    %s\n\n", a.Password)
			}
			say("Its owner signs in with:\n    rempart login %s --user %s --ca-fingerprint %s", sv.URL, a.Username, sv.CAFingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "tenant-admin, auditor, coordinator or operator")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant of a tenant admin or of a tenant's auditor")
	cmd.Flags().StringVar(&passFile, "new-password-file", "", "read the account's password from this file (default: generated)")
	return cmd
}

func newAccountList() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List accounts (operators: all; tenant admins: their tenant's)",
		Long: `List accounts with their role, tenant, second factor and state. Passwords and
second-factor secrets are never shown: the server keeps only hashes of them.`,
		Example: `  rempart account list
  rempart account list --tenant mairie-a --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/accounts"
			if tenant != "" {
				path += "?" + url.Values{"tenant": {tenant}}.Encode()
			}
			var list []accountOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			fmt.Printf("%-28s %-13s %-20s %-9s %-10s %-16s %s\n", "ACCOUNT", "ROLE", "TENANT", "2FA", "STATE", "CREATED", "LAST SIGN-IN")
			for _, a := range list {
				t, twofa, state := a.Tenant, "off", "active"
				if t == "" {
					t = "-"
				}
				switch {
				case a.TOTPEnabled:
					twofa = "on"
				case a.TOTPPending:
					twofa = "pending"
				}
				if a.Disabled {
					state = "disabled"
				}
				last := "never"
				if a.LastLogin != nil {
					last = localTime(*a.LastLogin)
				}
				fmt.Printf("%-28s %-13s %-20s %-9s %-10s %-16s %s\n", a.Username, strings.ReplaceAll(a.Role, "_", "-"), t, twofa, state, localTime(a.Created), last)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only the accounts of this tenant")
	return cmd
}

func newAccountDisable() *cobra.Command {
	return &cobra.Command{
		Use:   "disable NAME",
		Short: "Stop an account from signing in, and end its sessions and API tokens",
		Long: `Disable an account: it can no longer sign in, and its sessions and API tokens
stop working at once (they are deleted). Its past actions stay in the audit
trail. The last enabled operator cannot be disabled.`,
		Example: `  rempart account disable ancien-dsi@mairie-a.fr`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a accountOut
			if _, err := adminCall(cmd.Context(), http.MethodPost, "/v1/accounts/"+url.PathEscape(args[0])+"/disable", nil, &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			say("Disabled account %s (%s): it can no longer sign in, and its sessions and API tokens were ended.", a.Username, roleWords(a.Role, a.Tenant))
			return nil
		},
	}
}

func newAccountEnable() *cobra.Command {
	return &cobra.Command{
		Use:   "enable NAME",
		Short: "Let a disabled account sign in again, with a new generated password",
		Long: `Enable a disabled account again (operators: any; tenant admins: those of
their tenant). It gets a new generated password, printed once: the password it
had when it was disabled no longer works. Its second factor, if it had one,
stays on.`,
		Example: `  rempart account enable dsi@mairie-a.fr`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a accountOut
			if _, err := adminCall(cmd.Context(), http.MethodPost, "/v1/accounts/"+url.PathEscape(args[0])+"/enable", nil, &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			fmt.Printf("Enabled account %s (%s). Its new password, shown this once (hand it over safely):\n\n    %s\n\n", a.Username, roleWords(a.Role, a.Tenant), a.Password)
			return nil
		},
	}
}

func newAccountResetPassword() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password NAME",
		Short: "Give someone else's account a new generated password (ends its sessions)",
		Long: `Reset the password of another account (operators: any; tenant admins: those
of their tenant). The server generates a strong password, printed once; the
account's sessions and API tokens are ended. To change your own password use
` + "`rempart account password`" + `.`,
		Example: `  rempart account reset-password dsi@mairie-a.fr
  rempart account reset-password dsi@mairie-a.fr --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Username      string `json:"username"`
				Password      string `json:"password"`
				TokensRevoked int64  `json:"tokens_revoked"`
			}
			if _, err := adminCall(cmd.Context(), http.MethodPost, "/v1/accounts/"+url.PathEscape(args[0])+"/password", nil, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(out)
			}
			fmt.Printf("New password of %s, shown this once (hand it over safely; its owner changes it with `rempart account password`):\n\n    %s\n\n", out.Username, out.Password)
			say("%d session(s) or token(s) of %s were ended.", out.TokensRevoked, out.Username)
			return nil
		},
	}
}

func newAccountPassword() *cobra.Command {
	var passFile string
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Change your own password (your other sessions and tokens are ended)",
		Long: `Change the password of the account you are signed in with. The current
password comes from REMPART_LOGIN_PASSWORD, --password-file or a prompt; the
new one (12 characters or more) from REMPART_NEW_PASSWORD, --new-password-file
or a prompt. Every other session and API token of the account is ended: only
this machine's session stays.`,
		Example: `  rempart account password
  REMPART_LOGIN_PASSWORD=... REMPART_NEW_PASSWORD=... rempart account password --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sv, err := signedIn()
			if err != nil {
				return err
			}
			old, err := currentPassword(cmd, sv.Admin.Username)
			if err != nil {
				return err
			}
			np, err := newPassword(passFile, true)
			if err != nil {
				return err
			}
			var out struct {
				Username      string `json:"username"`
				TokensRevoked int64  `json:"tokens_revoked"`
			}
			if err := call(cmd.Context(), sv, sv.Admin.Token, http.MethodPost, "/v1/account/password", map[string]string{"old_password": old, "new_password": np}, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(out)
			}
			say("Changed the password of %s; %d other session(s) or token(s) were ended.", out.Username, out.TokensRevoked)
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "new-password-file", "", "read the new password from this file")
	return cmd
}

func newAccountWhoami() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the account and token you are signed in with",
		Long: `Ask the server who the stored session or API token belongs to: user name, role,
tenant, second factor, and when the token expires.`,
		Example: `  rempart account whoami
  rempart account whoami --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var w whoamiOut
			sv, err := adminCall(cmd.Context(), http.MethodGet, "/v1/account", nil, &w)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(w)
			}
			twofa := "off"
			if w.TOTPEnabled {
				twofa = "on"
			}
			fmt.Printf("%s on %s: %s; second factor %s; signed in with a %s token", w.Username, sv.URL, roleWords(w.Role, w.Tenant), twofa, w.Token.Kind)
			if w.Token.Expires != nil {
				fmt.Printf(" valid until %s", localTime(*w.Token.Expires))
			}
			fmt.Println(".")
			return nil
		},
	}
}

func newAccountTOTP() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "totp",
		Short: "Turn on or off the second factor (one-time codes of an authenticator app)",
		Long: `With a second factor, signing in takes a one-time code from an authenticator
app (FreeOTP, Aegis, Google Authenticator...) besides the password:
` + "`rempart login URL --user NAME --totp CODE`" + `.

` + "`rempart account totp enable`" + ` shows a secret and a QR code to scan, then asks for
a code from the app: the second factor is on only once a code is confirmed,
so a mistyped secret locks nobody out. An operator can turn off the second
factor of someone who lost their phone (` + "`rempart account totp reset NAME`" + `).
These commands need a session from a sign-in with a password, not an API token.`,
		Example: `  rempart account totp enable
  rempart account totp enable --json          # then: rempart account totp confirm --code 123456
  rempart account totp disable --code 123456
  rempart account totp reset dsi@mairie-a.fr  # operators`,
	}
	cmd.AddCommand(newTOTPEnable(), newTOTPConfirm(), newTOTPDisable(), newTOTPReset())
	return cmd
}

func newTOTPEnable() *cobra.Command {
	var code string
	cmd := &cobra.Command{
		Use:   "enable [--code CODE]",
		Short: "Set up a second factor for your account: scan, then confirm a code",
		Long: `Draw a new secret for your account's second factor and show it (as text, as
an otpauth:// URI and as a QR code on a terminal). Add it to an authenticator
app, then give the code the app shows: on a terminal you are asked for it;
in scripts pass --code, or run ` + "`rempart account totp confirm --code CODE`" + ` later.
Until a code is confirmed, signing in does not ask for one.`,
		Example: `  rempart account totp enable
  rempart account totp enable --json
  rempart account totp confirm --code 123456`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sv, err := signedIn()
			if err != nil {
				return err
			}
			var out struct {
				Secret     string `json:"secret"`
				OTPAuthURI string `json:"otpauth_uri"`
				Account    string `json:"account"`
			}
			if err := call(ctx, sv, sv.Admin.Token, http.MethodPost, "/v1/account/totp", nil, &out); err != nil {
				return err
			}
			interactive := code == "" && !g.json && ui.IsTerminal(os.Stdin)
			if !g.json {
				fmt.Printf("Add this account to your authenticator app: scan the QR code, or type the secret.\n\n    account: %s (issuer Rempart)\n    secret:  %s\n    URI:     %s\n\n", out.Account, groupSecret(out.Secret), out.OTPAuthURI)
				if ui.IsTerminal(os.Stdout) {
					if err := drawQR(os.Stdout, out.OTPAuthURI); err != nil {
						fmt.Fprintf(os.Stderr, "rempart: cannot draw the QR code (%v): type the secret instead\n", err)
					}
					fmt.Println()
				}
			}
			if interactive {
				if code, err = askLine("Code shown by the app: "); err != nil {
					return err
				}
			}
			if code == "" {
				if g.json {
					return printJSON(map[string]any{"account": out.Account, "secret": out.Secret, "otpauth_uri": out.OTPAuthURI,
						"totp_enabled": false, "next": "rempart account totp confirm --code CODE"})
				}
				fmt.Println("The second factor is NOT on yet: confirm it with a code from the app:\n    rempart account totp confirm --code CODE")
				return nil
			}
			if err := confirmTOTP(ctx, sv, code); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"account": out.Account, "secret": out.Secret, "otpauth_uri": out.OTPAuthURI, "totp_enabled": true})
			}
			fmt.Printf("The second factor is on: from now on sign in with\n    rempart login %s --user %s --totp CODE\n", sv.URL, out.Account)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "a code from the app, to confirm at once (for scripts)")
	return cmd
}

func newTOTPConfirm() *cobra.Command {
	var code string
	cmd := &cobra.Command{
		Use:   "confirm --code CODE",
		Short: "Turn on the second factor set up with `totp enable`, with a code from the app",
		Long: `Confirm the secret shown by ` + "`rempart account totp enable`" + ` with a code the
authenticator app shows. Only then does signing in ask for a code. A wrong
code changes nothing: check the secret and the phone's clock, and try again.`,
		Example: `  rempart account totp confirm --code 123456`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code == "" {
				return usagef("give the code the app shows with --code CODE")
			}
			sv, err := signedIn()
			if err != nil {
				return err
			}
			if err := confirmTOTP(cmd.Context(), sv, code); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"account": sv.Admin.Username, "totp_enabled": true})
			}
			say("The second factor is on: from now on sign in with\n    rempart login %s --user %s --totp CODE", sv.URL, sv.Admin.Username)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "the 6-digit code the app shows")
	return cmd
}

func confirmTOTP(ctx context.Context, sv *clientconf.Server, code string) error {
	return call(ctx, sv, sv.Admin.Token, http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": strings.TrimSpace(code)}, nil)
}

func newTOTPDisable() *cobra.Command {
	var code string
	cmd := &cobra.Command{
		Use:   "disable [--code CODE]",
		Short: "Turn off your account's second factor (takes your password and a code)",
		Long: `Turn off the second factor of the account you are signed in with, or cancel a
set-up not yet confirmed. The password comes from REMPART_LOGIN_PASSWORD,
--password-file or a prompt; the code from --code or a prompt. Lost the
phone? Ask an operator: ` + "`rempart account totp reset NAME`" + `.`,
		Example: `  rempart account totp disable
  REMPART_LOGIN_PASSWORD=... rempart account totp disable --code 123456 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sv, err := signedIn()
			if err != nil {
				return err
			}
			pw, err := currentPassword(cmd, sv.Admin.Username)
			if err != nil {
				return err
			}
			if code == "" && ui.IsTerminal(os.Stdin) {
				if code, err = askLine("Code shown by the app (Enter if the set-up was never confirmed): "); err != nil {
					return err
				}
			}
			if err := call(cmd.Context(), sv, sv.Admin.Token, http.MethodDelete, "/v1/account/totp", map[string]string{"password": pw, "code": code}, nil); err != nil {
				return err
			}
			if g.json {
				return printJSON(map[string]any{"account": sv.Admin.Username, "totp_enabled": false})
			}
			say("The second factor of %s is off: signing in takes the password only.", sv.Admin.Username)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "a current code from the app")
	return cmd
}

func newTOTPReset() *cobra.Command {
	return &cobra.Command{
		Use:   "reset NAME",
		Short: "Turn off someone else's second factor, e.g. after a lost phone (operators)",
		Long: `Turn off the second factor of another account, so that its owner can sign in
with the password alone and set up a new one. Check who is asking first: this
is how an attacker who knows a password would get in. It is in the audit trail.`,
		Example: `  rempart account totp reset dsi@mairie-a.fr`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a accountOut
			if _, err := adminCall(cmd.Context(), http.MethodDelete, "/v1/accounts/"+url.PathEscape(args[0])+"/totp", nil, &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(a)
			}
			say("The second factor of %s is off; ask its owner to set up a new one with `rempart account totp enable`.", a.Username)
			return nil
		},
	}
}

// askLine reads a line on the terminal (echoed: a one-time code is no
// lasting secret).
func askLine(label string) (string, error) {
	fmt.Fprint(os.Stderr, label)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// groupSecret spaces a base32 secret in groups of four, easier to type
// (apps ignore the spaces).
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// drawQR draws text as a QR code with half blocks, two rows of modules per
// line, in black on white whatever the terminal's colours (phones read dark
// on light), with a quiet zone around it.
func drawQR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return err
	}
	const quiet = 2
	var b strings.Builder
	for y := -quiet; y < code.Size+quiet; y += 2 {
		b.WriteString("\x1b[30;47m")
		for x := -quiet; x < code.Size+quiet; x++ {
			top, bottom := code.Black(x, y), code.Black(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func newToken() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "API tokens for scripts: create, list, revoke",
		Long: `An API token lets a script act as your account without your password or
second factor, with your account's role and never more. It is shown once,
when it is made, and expires (90 days by default, 2 years at most). Scripts
sign in with it:

    REMPART_TOKEN=rmpt_... rempart login https://HOST:PORT --ca-fingerprint FP

A token cannot make other tokens or change the second factor. Disabling the
account, or changing its password, ends its tokens.`,
		Example: `  rempart token create --name nightly-audit-export --ttl 90d
  rempart token list
  rempart token revoke 12`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(newTokenCreate(), newTokenList(), newTokenRevoke())
	return cmd
}

func newTokenCreate() *cobra.Command {
	var name, ttl string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--ttl 90d]",
		Short: "Create an API token for your account (shown once)",
		Long: `Create an API token with your account's role, for a script. Name it after what
uses it, to know what breaks when you revoke it. The lifetime is a number of
days (90d), weeks (12w), years (1y) or a duration (36h); 2 years at most.
Store the token like a password: it is shown this once.`,
		Example: `  rempart token create --name nightly-audit-export
  rempart token create --name monitoring --ttl 1y --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(name) == "" {
				return usagef("say what the token is for with --name NAME (e.g. --name nightly-audit-export)")
			}
			var t tokenOut
			sv, err := adminCall(cmd.Context(), http.MethodPost, "/v1/tokens", map[string]string{"name": name, "ttl": ttl}, &t)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(t)
			}
			until := "never"
			if t.Expires != nil {
				until = localTime(*t.Expires)
			}
			fmt.Printf("API token %d %q of %s (%s), valid until %s. Shown this once: store it like a password.\n\n    %s\n\n",
				t.ID, t.Name, t.Account, roleWords(t.Role, t.Tenant), until, t.Token)
			say("A script signs in with it:\n    REMPART_TOKEN=<the token> rempart login %s --ca-fingerprint %s\nRevoke it with: rempart token revoke %d", sv.URL, sv.CAFingerprint, t.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "what the token is for")
	cmd.Flags().StringVar(&ttl, "ttl", "90d", "lifetime: 90d, 12w, 1y, 36h... (2 years at most)")
	return cmd
}

func newTokenList() *cobra.Command {
	var account string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your sessions and API tokens (never their secrets)",
		Long: `List the tokens of your account: sessions from ` + "`rempart login`" + ` and API tokens
for scripts, with when each was last used. The one in use is marked with *.
Operators may list another account's with --account NAME.`,
		Example: `  rempart token list
  rempart token list --account dsi@mairie-a.fr --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/tokens"
			if account != "" {
				path += "?" + url.Values{"account": {account}}.Encode()
			}
			var list []tokenOut
			if _, err := adminCall(cmd.Context(), http.MethodGet, path, nil, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(list)
			}
			fmt.Printf("  %-6s %-30s %-11s %-17s %-17s %s\n", "ID", "NAME", "KIND", "CREATED", "EXPIRES", "LAST USED")
			for _, t := range list {
				mark, expires, used := " ", "never", "never"
				if t.Current {
					mark = "*"
				}
				if t.Expires != nil {
					expires = localTime(*t.Expires)
				}
				if t.LastUsed != nil {
					used = localTime(*t.LastUsed)
				}
				fmt.Printf("%s %-6d %-30s %-11s %-17s %-17s %s\n", mark, t.ID, oneLine(t.Name), t.Kind, localTime(t.Created), expires, used)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "another account's tokens (operators)")
	return cmd
}

func newTokenRevoke() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once (yours; operators: anyone's)",
		Long: `Revoke a session or an API token: it stops working at once. Find its ID with
` + "`rempart token list`" + `. Revoking the token you are signed in with signs you out.`,
		Example: `  rempart token revoke 12`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t tokenOut
			if _, err := adminCall(cmd.Context(), http.MethodDelete, "/v1/tokens/"+url.PathEscape(args[0]), nil, &t); err != nil {
				return err
			}
			if g.json {
				return printJSON(t)
			}
			say("Revoked token %d %q of %s: it no longer works.", t.ID, t.Name, t.Account)
			return nil
		},
	}
}

// loginWithToken is `rempart login URL --token rmpt_...`: it checks the
// token with the server and stores it as the session of the
// administration commands, with the account, role and expiry the server
// reports.
func loginWithToken(ctx context.Context, rawURL, fp, token string) error {
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, "rmpt_") {
		return usagef("the token given is not an API token (they start with rmpt_): make one with `rempart token create --name NAME`")
	}
	st, err := clientconf.Load()
	if err != nil {
		return err
	}
	sv, err := trust(ctx, st, rawURL, fp)
	if err != nil {
		return err
	}
	var w whoamiOut
	if err := call(ctx, sv, token, http.MethodGet, "/v1/account", nil, &w); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return fmt.Errorf("the server refused this token: it was revoked, has expired or was not copied whole (%w)", err)
		}
		return err
	}
	var expires time.Time
	if w.Token.Expires != nil {
		expires = *w.Token.Expires
	}
	sv.Admin = &clientconf.Session{Username: w.Username, Token: token, Expires: expires, Role: w.Role, Tenant: w.Tenant}
	if err := st.Save(); err != nil {
		return err
	}
	if g.json {
		return printJSON(map[string]any{"server": sv.URL, "username": w.Username, "role": w.Role, "tenant": w.Tenant,
			"expires": w.Token.Expires, "token_id": w.Token.ID, "token_name": w.Token.Name, "ca_fingerprint": sv.CAFingerprint})
	}
	until := "it is revoked"
	if w.Token.Expires != nil {
		until = localTime(*w.Token.Expires)
	}
	say("Signed in to %s as %s (%s) with API token %d %q, until %s.", sv.URL, w.Username, roleWords(w.Role, w.Tenant), w.Token.ID, w.Token.Name, until)
	return nil
}
