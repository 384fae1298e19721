package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestPlanVersions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "town-a"), mustTenant(t, e, "town-b")
		_, err := e.s.PlanVersion(ctx, a.ID, 0)
		wantErr(t, err, ErrNotFound, "no plan yet")

		v1, err := e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 0, CreatedBy: "account:admin-a",
			Plan: []byte(`{"format":1,"services":[]}`), Source: "format: 1 # first\nservices: []\n", Note: "first draft"})
		must(t, err)
		if v1.Version != 1 || len(v1.SHA256) != 64 {
			t.Fatalf("first version %+v", v1)
		}
		e.clock.Add(time.Hour)
		// A change made from version 0 (a stale view) is refused.
		_, err = e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 0, CreatedBy: "account:op", Plan: []byte(`{"x":1}`)})
		wantErr(t, err, ErrConflict, "save from a stale version")
		_, err = e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 5, CreatedBy: "account:op", Plan: []byte(`{"x":1}`)})
		wantErr(t, err, ErrConflict, "save from a future version")
		v2, err := e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 1, CreatedBy: "account:op", Plan: []byte(`{"format":1,"services":[{"id":"x"}]}`)})
		must(t, err)
		if v2.Version != 2 || v2.Source != "" {
			t.Fatalf("second version %+v", v2)
		}
		// Tenants are independent.
		b1, err := e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: b.ID, Base: 0, CreatedBy: "account:admin-b", Plan: []byte(`{}`)})
		must(t, err)
		if b1.Version != 1 {
			t.Fatalf("town-b's first version is %d", b1.Version)
		}
		_, err = e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: 999, Base: 0, CreatedBy: "account:op", Plan: []byte(`{}`)})
		wantErr(t, err, ErrNotFound, "unknown tenant")
		_, err = e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 2, CreatedBy: "account:op"})
		wantErr(t, err, ErrInvalid, "empty plan")

		// Every version is kept, with who, when and what.
		cur, err := e.s.PlanVersion(ctx, a.ID, 0)
		must(t, err)
		if cur.Version != 2 || cur.CreatedBy != "account:op" || !cur.Created.Equal(v2.Created) || string(cur.Plan) != string(v2.Plan) {
			t.Fatalf("latest %+v", cur)
		}
		old, err := e.s.PlanVersion(ctx, a.ID, 1)
		must(t, err)
		if old.Note != "first draft" || old.Source != v1.Source || old.SHA256 != v1.SHA256 || !old.Created.Equal(v1.Created) {
			t.Fatalf("version 1 %+v", old)
		}
		_, err = e.s.PlanVersion(ctx, a.ID, 3)
		wantErr(t, err, ErrNotFound, "version 3")
		list, err := e.s.PlanVersions(ctx, a.ID)
		must(t, err)
		if len(list) != 2 || list[0].Version != 2 || list[1].Version != 1 {
			t.Fatalf("versions %+v", list)
		}

		// Two writers from the same base: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.s.SavePlanVersion(ctx, NewPlanVersion{TenantID: a.ID, Base: 2, CreatedBy: "account:op", Plan: []byte(`{}`)})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				wantErr(t, err, ErrConflict, "concurrent save")
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent saves from version 2 succeeded, want 1", won)
		}
	})
}
