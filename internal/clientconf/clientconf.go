// Package clientconf keeps what a client machine knows about Rempart
// servers: for each server (keyed by host:port) its URL, the pinned CA
// (fingerprint and certificate), the admin session of `rempart login` and
// the agent tokens of `rempart agent join`. The state is one JSON file,
// $XDG_CONFIG_HOME/rempart/servers.json (default ~/.config/rempart), mode
// 0600, replaced atomically.
package clientconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// FileName is the state file inside Dir.
const FileName = "servers.json"

// Session is an administrator's sign-in.
type Session struct {
	Username string    `json:"username"`
	Token    string    `json:"token"`
	Expires  time.Time `json:"expires"`
	Role     string    `json:"role"`
	Tenant   string    `json:"tenant,omitempty"`
}

// Valid reports whether the session has a token that has not expired.
func (s *Session) Valid(now time.Time) bool {
	return s != nil && s.Token != "" && (s.Expires.IsZero() || now.Before(s.Expires))
}

// Agent is this machine's identity in one tenant of a server.
type Agent struct {
	ID     int64     `json:"id"`
	Tenant string    `json:"tenant"`
	Token  string    `json:"token"`
	Host   string    `json:"host"`
	Joined time.Time `json:"joined"`
}

// Server is what is known about one server.
type Server struct {
	URL           string            `json:"url"`            // https://HOST:PORT
	CAFingerprint string            `json:"ca_fingerprint"` // pinned
	CAPEM         string            `json:"ca_pem"`
	Admin         *Session          `json:"admin,omitempty"`
	Agents        map[string]*Agent `json:"agents,omitempty"` // by tenant
}

// State is the whole file.
type State struct {
	Servers map[string]*Server `json:"servers"` // by host:port
	path    string
}

// Dir is $XDG_CONFIG_HOME/rempart, or ~/.config/rempart.
func Dir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "rempart"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("clientconf: no home folder to keep server settings in: %w", err)
	}
	return filepath.Join(home, ".config", "rempart"), nil
}

// Load reads the state (empty when there is none yet).
func Load() (*State, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return LoadFile(filepath.Join(dir, FileName))
}

// LoadFile reads the state from path (empty when path does not exist).
func LoadFile(path string) (*State, error) {
	s := &State{Servers: map[string]*Server{}, path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clientconf: read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("clientconf: %s is damaged (%w): move it away and run `rempart login` or `rempart agent join` again", path, err)
	}
	if s.Servers == nil {
		s.Servers = map[string]*Server{}
	}
	return s, nil
}

// Path is the file the state is saved to.
func (s *State) Path() string { return s.path }

// Save writes the state atomically, readable by its owner only.
func (s *State) Save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("clientconf: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("clientconf: create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".servers-*.tmp")
	if err != nil {
		return fmt.Errorf("clientconf: save: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("clientconf: save: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("clientconf: save: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("clientconf: save: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("clientconf: save: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("clientconf: save: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Key returns the host:port of an https:// URL (port 443 when absent) and
// the URL reduced to https://HOST:PORT.
func Key(rawURL string) (key, base string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", "", fmt.Errorf("server address %q: use https://HOST:PORT", rawURL)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	key = net.JoinHostPort(host, port)
	return key, "https://" + key, nil
}

// Server returns the entry for a URL, nil when unknown.
func (s *State) Server(rawURL string) *Server {
	k, _, err := Key(rawURL)
	if err != nil {
		return nil
	}
	return s.Servers[k]
}

// Put returns the entry for a URL, creating it.
func (s *State) Put(rawURL string) (*Server, error) {
	k, base, err := Key(rawURL)
	if err != nil {
		return nil, err
	}
	sv := s.Servers[k]
	if sv == nil {
		sv = &Server{URL: base}
		s.Servers[k] = sv
	}
	return sv, nil
}

// Keys lists the known servers, sorted.
func (s *State) Keys() []string {
	keys := make([]string, 0, len(s.Servers))
	for k := range s.Servers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
