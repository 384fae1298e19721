package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/server/store"
)

// crisisAccounts lets the crisis relay check platform sessions (creating
// and listing rooms) with the server's own tokens.
type crisisAccounts struct{ s *srv }

func (a crisisAccounts) Authenticate(ctx context.Context, bearer string) (crisis.Principal, error) {
	p, err := a.s.st.CheckToken(ctx, bearer)
	switch {
	case errors.Is(err, store.ErrInvalidToken), errors.Is(err, store.ErrTokenExpired):
		return crisis.Principal{}, crisis.ErrUnauthenticated
	case err != nil:
		return crisis.Principal{}, fmt.Errorf("server: check session: %w", err)
	case p.Role == store.RoleAgent:
		// A backed-up machine's token never opens a crisis room.
		return crisis.Principal{}, crisis.ErrUnauthenticated
	}
	tenant, err := a.s.tenantName(ctx, p.TenantID)
	if err != nil {
		return crisis.Principal{}, fmt.Errorf("server: tenant of %s: %w", p.Username, err)
	}
	return crisis.Principal{Username: p.Username, Role: string(p.Role), Tenant: tenant}, nil
}

// newCrisis builds the crisis room relay over the server's database; its
// attachments live in the data folder; calls (nil: off) carry its audio
// and video.
func (s *srv) newCrisis(cfg Config, calls *crisis.CallOptions) (*crisis.Handler, error) {
	h, err := crisis.New(crisis.Options{
		Store:    s.st.Crisis(),
		Accounts: crisisAccounts{s: s},
		Audit:    s.audit,
		DataDir:  cfg.Data,
		Logger:   s.log,
		Now:      cfg.Now,
		Call:     calls,
	})
	if err != nil {
		return nil, fmt.Errorf("server: crisis rooms: %w", err)
	}
	return h, nil
}

// hostRe keeps the Host header out of the CSP unless it is a plain host
// name or address with a port.
var hostRe = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// appSecurityHeaders: the app loads nothing from elsewhere (it must work
// with no internet, and an outside host is a way out for the plaintext it
// shows); it talks to this host only, over HTTPS and WSS.
func appSecurityHeaders(w http.ResponseWriter, r *http.Request) {
	connect := "'self'"
	if hostRe.MatchString(r.Host) {
		connect += " wss://" + r.Host
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
		"font-src 'self' data:; connect-src "+connect+"; media-src 'self' blob:; worker-src 'self'; object-src 'none'; "+
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// webApp serves the web app (built by Vite, embedded in the binary): the
// crisis room at /crisis/ and the console at /console/. Both pages come
// from the same build and share its assets, served under /crisis/assets/.
type webApp struct{ fsys fs.FS }

// consolePage is the console's page in the build.
const consolePage = "console/index.html"

// newWebApp returns the web app handler; without a built app (nil, or no
// index.html) it answers 503 with what to do.
func newWebApp(fsys fs.FS) http.Handler {
	if fsys != nil {
		if _, err := fs.Stat(fsys, "index.html"); err != nil {
			fsys = nil
		}
	}
	return webApp{fsys: fsys}
}

func (a webApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	appSecurityHeaders(w, r)
	if a.fsys == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("the web app was not built: run make build\n"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, "/crisis/")), "/")
	if name == "" || name == "." {
		name = "index.html"
	}
	if strings.HasPrefix(r.URL.Path, "/console/") {
		// One page (its screens are # routes); its assets are the build's.
		if r.URL.Path != "/console/" && r.URL.Path != "/console/index.html" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		name = consolePage
		if _, err := fs.Stat(a.fsys, name); err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("the web console was not built: run make build\n"))
			return
		}
	}
	f, err := a.fsys.Open(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if name == "index.html" || name == consolePage {
		// The page names the hashed assets of this build: always ask.
		w.Header().Set("Cache-Control", "no-cache")
	} else if hashedAsset(name) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	rs, ok := f.(interface {
		Read([]byte) (int, error)
		Seek(int64, int) (int64, error)
	})
	if !ok {
		http.Error(w, "the web app's files cannot be served", http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, name, st.ModTime(), rs)
}

// hashedRe: Vite names built assets name-HASH.ext (8 characters of
// base64url-ish hash), under assets/.
var hashedRe = regexp.MustCompile(`-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$`)

func hashedAsset(name string) bool {
	return strings.HasPrefix(name, "assets/") && hashedRe.MatchString(name)
}
