package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/server"
	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/web"
)

func newServer() *cobra.Command {
	var flags server.Config
	var configFile string
	var callOn bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the backup server (HTTPS) that keeps the towns' backups out of attackers' reach",
		Long: `Run the Rempart backup server. Machines back up into it over HTTPS and can never
delete or change what is stored (see docs/server.md).

Everything lives in the data folder (--data): the local certificate authority
(ca/), the database (rempart.db, or PostgreSQL with --db postgres://...) and the
repositories (repos/). At start the server prints its URL and the fingerprint
of its certificate authority: clients check it once when they first connect.

On first start it creates the operator account "admin" with the password in
REMPART_ADMIN_PASSWORD, or a generated one that is printed once.

Settings may also come from a YAML file (--config) with the keys listen, data,
db, extra_names (the names clients use to reach this server), storage (a
folder, or S3 with Object Lock: storage.type s3 and storage.s3.endpoint,
bucket, prefix, region, access_key, secret_key) and retention (interval,
grace, loosen_delay, timezone); flags win. See docs/server.md.

The crisis room web app is served at https://HOST:PORT/crisis/ (its URL and a
QR code are printed at start); its relay API is under /v1/crisis/ and keeps
ciphertext only (docs/crisis-e2ee.md).

Calls: members of a crisis room can talk and see each other (audio, video,
screen sharing), encrypted end to end by their browsers: the server forwards
media it cannot read. Sound and video do not go through the HTTPS port but
through ONE UDP port, by default the same number as the HTTPS port (8443):
open TCP 8443 and UDP 8443 in the firewall between the members' devices and
the server. The server announces the addresses of its network interfaces; if
members reach it through a 1:1 NAT, give the outside address with
--call-public-address. For devices behind a firewall that lets only one port
out, an embedded TURN relay can run too (--call-turn, UDP 3478, off by
default); members get short-lived credentials for it automatically. Nothing
is asked of an outside server: calls work on a network cut off from the
internet. In the YAML file: call: {enabled, udp_port, public_addresses,
turn: {enabled, listen, realm}}. --call=false turns calls off.

Every hour the server applies each tenant's retention (rempart tenant
retention) and removes the data no kept snapshot needs.
Stop the server with Ctrl-C or SIGTERM: requests in flight finish first.`,
		Example: `  REMPART_ADMIN_PASSWORD='a long admin password' rempart server --listen 0.0.0.0:8443 --data /var/lib/rempart
  rempart server --config /etc/rempart/rempart.yaml
  rempart server --listen 127.0.0.1:0 --data /tmp/rempart-test --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg server.Config
			if configFile != "" {
				var err error
				if cfg, err = server.LoadConfigFile(configFile); err != nil {
					return err
				}
			}
			f := cmd.Flags()
			if f.Changed("listen") || cfg.Listen == "" {
				cfg.Listen = flags.Listen
			}
			if f.Changed("data") {
				cfg.Data = flags.Data
			}
			if f.Changed("db") {
				cfg.DB = flags.DB
			}
			if f.Changed("extra-name") {
				cfg.ExtraNames = flags.ExtraNames
			}
			if f.Changed("call") {
				cfg.Call.Enabled = &callOn
			}
			if f.Changed("call-udp-port") {
				cfg.Call.UDPPort = flags.Call.UDPPort
			}
			if f.Changed("call-public-address") {
				cfg.Call.PublicAddresses = flags.Call.PublicAddresses
			}
			if f.Changed("call-turn") {
				cfg.Call.TURN.Enabled = flags.Call.TURN.Enabled
			}
			if f.Changed("call-turn-listen") {
				cfg.Call.TURN.Listen = flags.Call.TURN.Listen
			}
			cfg.AdminPassword = os.Getenv("REMPART_ADMIN_PASSWORD")
			cfg.Ready = printServerInfo
			cfg.WebApp = web.Assets() // the crisis room app, at /crisis/
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.Listen, "listen", server.DefaultListen, "HTTPS address to listen on, HOST:PORT (0.0.0.0:8443 for every interface; port 0 picks a free one)")
	f.StringVar(&flags.Data, "data", server.DefaultDataDir(), "data folder: certificates, database and repositories")
	f.StringVar(&flags.DB, "db", "", "database: empty for SQLite in the data folder, or postgres://USER:PASS@HOST/DB")
	f.StringSliceVar(&flags.ExtraNames, "extra-name", nil, "host name or address clients use to reach the server, added to its certificate (repeatable)")
	f.BoolVar(&callOn, "call", true, "crisis room audio and video calls (--call=false turns them off)")
	f.IntVar(&flags.Call.UDPPort, "call-udp-port", 0, "the one UDP port that carries the calls' sound and video (default: the HTTPS port's number, 8443); open it in the firewall")
	f.StringSliceVar(&flags.Call.PublicAddresses, "call-public-address", nil, "address or host name members reach this server at, when it sits behind a 1:1 NAT (repeatable; default: the machine's own addresses)")
	f.BoolVar(&flags.Call.TURN.Enabled, "call-turn", false, "also run a TURN relay for devices behind a strict firewall (UDP, see --call-turn-listen)")
	f.StringVar(&flags.Call.TURN.Listen, "call-turn-listen", server.DefaultTURNListen, "UDP address of the TURN relay (without a host: the host of --listen)")
	f.StringVar(&configFile, "config", "", "YAML settings file (keys: listen, data, db, extra_names, storage, retention, call); flags override it")
	return cmd
}

// printServerInfo tells the person who started the server what clients need.
func printServerInfo(i server.Info) {
	if g.json {
		_ = printJSON(i)
		return
	}
	fmt.Printf("Rempart server listening on %s\n", i.URL)
	fmt.Printf("CA fingerprint (SHA-256): %s\n", i.CAFingerprint)
	fmt.Printf("Data folder: %s (database: %s)\n", i.DataDir, i.Database)
	if i.AdminCreated && i.AdminPassword != "" {
		fmt.Printf("\nFirst start: created the operator account \"admin\" with this password, SHOWN ONLY NOW:\n\n    %s\n\nWrite it down, then sign in with: rempart login %s --user admin --ca-fingerprint %s\n", i.AdminPassword, i.URL, i.CAFingerprint)
	} else if i.AdminCreated {
		fmt.Printf("First start: created the operator account \"admin\" with the password in REMPART_ADMIN_PASSWORD.\n")
	}
	fmt.Printf("Clients check the fingerprint above when they first connect.\n")
	fmt.Printf("\nConsole (web): %s/console/\n", i.URL)
	fmt.Printf("Crisis room (web app): %s\n", i.CrisisURL)
	if i.CallUDP != "" {
		fmt.Printf("Calls: sound and video on UDP %s (open this UDP port in the firewall, with the HTTPS port)\n", i.CallUDP)
	}
	if i.CallTURN != "" {
		fmt.Printf("Calls: TURN relay at %s\n", i.CallTURN)
	}
	fmt.Printf("Phones and laptops trust this server's certificate authority once: download\n"+
		"%s/ca.crt, check that its SHA-256 fingerprint is the one above, and install it\n"+
		"(see the README, \"Crisis room\").\n", i.URL)
	if ui.IsTerminal(os.Stdout) { // a log file gets the URL, not escape codes
		fmt.Printf("Scan to open the crisis room:\n\n")
		if err := drawQR(os.Stdout, i.CrisisURL); err != nil {
			fmt.Printf("(cannot draw the QR code: %v)\n", err)
		}
	}
	fmt.Printf("\nStop with Ctrl-C.\n")
}
