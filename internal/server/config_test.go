package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rempart.yaml")
	if err := os.WriteFile(p, []byte("listen: 0.0.0.0:9443\ndata: d\nextra_names: [backup.mairie.local]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9443" || c.Data != filepath.Join(dir, "d") || len(c.ExtraNames) != 1 {
		t.Errorf("loaded %+v", c)
	}
	if err := os.WriteFile(p, []byte("listne: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(p); err == nil {
		t.Error("a misspelt key is accepted")
	}
}

func TestLoadCallConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rempart.yaml")
	yml := "call:\n  enabled: true\n  udp_port: 50000\n  public_addresses: [203.0.113.7, visio.mairie.fr]\n  turn: {enabled: true, listen: \":3479\", realm: mairie}\n"
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Call.On() || c.Call.UDPPort != 50000 || len(c.Call.PublicAddresses) != 2 || !c.Call.TURN.Enabled ||
		c.Call.TURN.Listen != ":3479" || c.Call.TURN.Realm != "mairie" {
		t.Errorf("loaded %+v", c.Call)
	}
	if err := os.WriteFile(p, []byte("call:\n  enabled: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = LoadConfigFile(p); err != nil || c.Call.On() {
		t.Errorf("enabled: false gives %+v, %v", c.Call, err)
	}
	if (CallConfig{}).On() != true {
		t.Error("calls are off by default")
	}
	if err := os.WriteFile(p, []byte("call:\n  udp_prot: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(p); err == nil {
		t.Error("a misspelt call key is accepted")
	}
}

// Media stays on the interface of the HTTPS listener.
func TestCallHost(t *testing.T) {
	for in, want := range map[string]string{"": "0.0.0.0", "0.0.0.0": "0.0.0.0", "::": "0.0.0.0", "127.0.0.1": "127.0.0.1", "192.0.2.10": "192.0.2.10"} {
		got, loop, err := callHost(in)
		if err != nil || got != want || loop != (want == "127.0.0.1") {
			t.Errorf("callHost(%q) = %q %v %v, want %q", in, got, loop, err, want)
		}
	}
	if _, _, err := callHost("2001:db8::1"); err == nil {
		t.Error("an IPv6 listener is accepted for IPv4 media")
	}
	// Port 0 for HTTPS: any free UDP port, on loopback.
	cs, err := startCalls(Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var i Info
	cs.info(&i)
	if !strings.HasPrefix(i.CallUDP, "127.0.0.1:") || strings.HasSuffix(i.CallUDP, ":0") || i.CallTURN != "" {
		t.Errorf("info %+v", i)
	}
	// TURN on request, on the listener's interface too; its credentials
	// reach members through the relay.
	cs2, err := startCalls(Config{Listen: "127.0.0.1:0", Call: CallConfig{TURN: CallTURNConfig{Enabled: true, Listen: ":0"}}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cs2.Close()
	var i2 Info
	cs2.info(&i2)
	if !strings.HasPrefix(i2.CallTURN, "turn:127.0.0.1:") || strings.Contains(i2.CallTURN, ":0?") {
		t.Errorf("TURN info %+v", i2)
	}
	if o := cs2.options(); o.TURN == nil || o.SFU == nil {
		t.Errorf("relay options %+v", o)
	}
	off := false
	if cs, err := startCalls(Config{Listen: "127.0.0.1:0", Call: CallConfig{Enabled: &off}}, nil); err != nil || cs != nil {
		t.Errorf("calls off: %v %v", cs, err)
	}
}
