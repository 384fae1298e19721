package repoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rempart/rempart/internal/server/store"
)

// Role is what a principal may do.
type Role string

// The roles the repository API knows; any other is refused.
const (
	RoleAgent       Role = "agent"        // backs up into its own tenant
	RoleTenantAdmin Role = "tenant_admin" // manages its own tenant
	RoleOperator    Role = "operator"     // runs the server: reads every tenant, writes none
)

// Principal is who sent a request.
type Principal struct {
	ID     string // for the audit trail and lock ownership: "agent:12", "account:alice"
	Tenant string // the tenant's name as in URLs; "" for operators
	Role   Role
}

// ErrUnauthenticated means the request carries no valid credentials.
var ErrUnauthenticated = errors.New("missing, invalid, expired or revoked token")

// Authorizer says who sent a request. Errors wrapping ErrUnauthenticated
// become 401; others 503.
type Authorizer interface {
	Authorize(r *http.Request) (Principal, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(r *http.Request) (Principal, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(r *http.Request) (Principal, error) { return f(r) }

// TokenStore is the part of *store.Store that StoreAuthorizer needs.
type TokenStore interface {
	CheckToken(ctx context.Context, token string) (store.Principal, error)
	ListTenants(ctx context.Context) ([]store.Tenant, error)
}

// StoreAuthorizer checks "Authorization: Bearer TOKEN" against the store's
// API tokens (of agents and accounts).
type StoreAuthorizer struct {
	Store TokenStore

	mu    sync.Mutex
	names map[int64]string // tenant ID → name; names never change
}

// Authorize implements Authorizer.
func (a *StoreAuthorizer) Authorize(r *http.Request) (Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Principal{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	sp, err := a.Store.CheckToken(r.Context(), strings.TrimSpace(tok))
	if errors.Is(err, store.ErrInvalidToken) || errors.Is(err, store.ErrTokenExpired) {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("checking token: %w", err)
	}
	p := Principal{Role: Role(sp.Role)}
	if sp.AgentID != 0 {
		p.ID = "agent:" + strconv.FormatInt(sp.AgentID, 10)
	} else {
		p.ID = "account:" + sp.Username
	}
	if sp.TenantID != 0 {
		if p.Tenant, err = a.tenantName(r.Context(), sp.TenantID); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

func (a *StoreAuthorizer) tenantName(ctx context.Context, id int64) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.names[id]; ok {
		return n, nil
	}
	list, err := a.Store.ListTenants(ctx)
	if err != nil {
		return "", fmt.Errorf("listing tenants: %w", err)
	}
	if a.names == nil {
		a.names = map[int64]string{}
	}
	for _, t := range list {
		a.names[t.ID] = t.Name
	}
	n, ok := a.names[id]
	if !ok {
		return "", fmt.Errorf("%w: tenant %d no longer exists", ErrUnauthenticated, id)
	}
	return n, nil
}
