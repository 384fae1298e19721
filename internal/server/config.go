package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/vault/prune"
	"gopkg.in/yaml.v3"
)

// DefaultListen is where the server listens when nothing else is said:
// this machine only, so that exposing it to the network is a decision.
const DefaultListen = "127.0.0.1:8443"

// Config is what Run needs. Build it with LoadConfigFile and override the
// fields given on the command line.
type Config struct {
	// Listen is the HTTPS address, host:port (port 0: any free port).
	Listen string `yaml:"listen"`
	// Data is the data folder: ca/, rempart.db and repos/ live there.
	Data string `yaml:"data"`
	// DB is "" for SQLite in the data folder, or a postgres:// DSN.
	DB string `yaml:"db"`
	// ExtraNames are host names or addresses that clients use to reach the
	// server, added to its certificate.
	ExtraNames []string `yaml:"extra_names"`
	// Retention tunes the server's garbage collection (docs/server.md).
	Retention RetentionConfig `yaml:"retention"`
	// Storage is where the repository files live: the data folder
	// (default) or an S3 bucket with Object Lock (storage_config.go).
	Storage StorageConfig `yaml:"storage"`
	// Call is the crisis room's audio and video (call_config.go).
	Call CallConfig `yaml:"call"`

	// AdminPassword is the password of the first operator account "admin"
	// (created at first start only); "" generates one and reports it once.
	AdminPassword string `yaml:"-"`
	// Ready is called once the server listens (nil: nothing is called).
	Ready func(Info) `yaml:"-"`
	// Now is the server's clock (nil: time.Now); tests move it.
	Now func() time.Time `yaml:"-"`
	// WebApp holds the built crisis room web app (index.html at its root),
	// served at /crisis/; nil, or no index.html: /crisis/ answers 503.
	WebApp fs.FS `yaml:"-"`
}

// RetentionConfig: periods are written "1h", "48h", "7d"...
type RetentionConfig struct {
	// Interval between two collections of every tenant (default 1h).
	Interval string `yaml:"interval"`
	// Grace: unreferenced packs younger than this are kept (default 48h).
	Grace string `yaml:"grace"`
	// LoosenDelay: how long a looser retention policy waits (default 7d).
	LoosenDelay string `yaml:"loosen_delay"`
	// Timezone of the calendar days of daily/weekly rules, e.g.
	// "Europe/Paris" (default: the machine's).
	Timezone string `yaml:"timezone"`
}

// parse reads the periods, with defaults for the empty ones.
func (c RetentionConfig) parse() (interval, grace, loosen time.Duration, loc *time.Location, err error) {
	interval, grace, loosen, loc = time.Hour, retention.DefaultGrace, retention.DefaultLoosenDelay, time.Local
	for _, f := range []struct {
		name string
		s    string
		d    *time.Duration
	}{{"retention.interval", c.Interval, &interval}, {"retention.grace", c.Grace, &grace}, {"retention.loosen_delay", c.LoosenDelay, &loosen}} {
		if f.s == "" {
			continue
		}
		if *f.d, err = prune.ParseDuration(f.s); err != nil {
			return 0, 0, 0, nil, fmt.Errorf("server: configuration %s: %w", f.name, err)
		}
	}
	if c.Timezone != "" {
		if loc, err = time.LoadLocation(c.Timezone); err != nil {
			return 0, 0, 0, nil, fmt.Errorf("server: configuration retention.timezone: %w (use a name such as Europe/Paris)", err)
		}
	}
	return interval, grace, loosen, loc, nil
}

// Info is what the server tells the person who started it.
type Info struct {
	URL           string `json:"url"`            // https://HOST:PORT
	CrisisURL     string `json:"crisis_url"`     // https://HOST:PORT/crisis/: the crisis room web app
	Addr          string `json:"addr"`           // the address actually listened on
	CAFingerprint string `json:"ca_fingerprint"` // what clients must pin
	DataDir       string `json:"data"`
	Database      string `json:"database"` // "sqlite" or "postgres"
	// CallUDP is the UDP address of the calls' media ("" when calls are
	// off); CallTURN the embedded TURN server's, when it runs.
	CallUDP  string `json:"call_udp,omitempty"`
	CallTURN string `json:"call_turn,omitempty"`
	// AdminCreated is true on first start, when the account "admin" was
	// created; AdminPassword is then set only if it was generated.
	AdminCreated  bool   `json:"admin_created"`
	AdminPassword string `json:"admin_password,omitempty"`
}

// LoadConfigFile reads a rempart.yaml file (keys: listen, data, db,
// extra_names, retention, storage, call). Unknown keys are refused, so that a
// typo is not ignored.
func LoadConfigFile(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("server: configuration file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("server: configuration file %s: %w", path, err)
	}
	if c.Data != "" && !filepath.IsAbs(c.Data) {
		// A relative data folder is relative to the file, not to wherever
		// the server happens to be started from.
		c.Data = filepath.Join(filepath.Dir(path), c.Data)
	}
	c.Storage.resolvePaths(filepath.Dir(path))
	return c, nil
}

// DefaultDataDir is /var/lib/rempart for root, else a folder in the user's
// data directory.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/rempart"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "rempart", "server")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "rempart", "server")
	}
	return "rempart-data"
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Data == "" {
		c.Data = DefaultDataDir()
	}
	return c
}
