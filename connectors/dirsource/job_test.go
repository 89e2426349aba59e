package dirsource_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/connectors/dirsource"
	"github.com/accessbot/accessbot/connectors/scim/scimfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type tenantEnv struct {
	st   store.Store
	keys *secrets.Keyring
	ten  *accessbot.Tenant
	own  *accessbot.User
}

func newTenantEnv(t *testing.T, driver string) *tenantEnv {
	t.Helper()
	ctx := context.Background()
	keys, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{3}, secrets.KeySize)})
	must(t, err)
	x := &tenantEnv{st: storetest.Open(t, driver), keys: keys, ten: &accessbot.Tenant{Slug: "acme", Name: "Acme"}}
	must(t, x.st.CreateTenant(ctx, x.ten))
	x.own = &accessbot.User{TenantID: x.ten.ID, Email: "owner@example.com", Name: "Owner", Role: accessbot.RoleAdmin}
	must(t, x.st.CreateUser(ctx, x.own))
	must(t, x.st.PutOutboundAllow(ctx, x.ten.ID, []string{"127.0.0.1"}))
	return x
}

// connector stores a connector as apply does: settings plain, secrets sealed.
func (x *tenantEnv) connector(t *testing.T, name, typ string, settings, sec map[string]string) {
	t.Helper()
	ctx := context.Background()
	for k, v := range sec {
		settings[k+"_env"] = strings.ToUpper(name + "_" + k)
		sn := store.ConnectorSecretName(name, k)
		kid, ct, err := x.keys.Seal([]byte(v), secrets.AAD(x.ten.ID, sn))
		must(t, err)
		must(t, x.st.PutSecret(ctx, &accessbot.Secret{TenantID: x.ten.ID, Name: sn, KeyID: kid, Ciphertext: ct}))
	}
	must(t, x.st.PutConnector(ctx, &store.Connector{TenantID: x.ten.ID, Name: name, Type: typ, Settings: settings}))
}

func (x *tenantEnv) app(t *testing.T, name, connector string) *accessbot.Application {
	t.Helper()
	a := &accessbot.Application{TenantID: x.ten.ID, Name: name, Connector: connector, PrimaryOwnerID: x.own.ID}
	must(t, x.st.CreateApplication(context.Background(), a))
	return a
}

// TestScheduledSyncsRunOncePerSlotAcrossReplicas: two schedulers share a
// store; each application with a sync schedule (an Entra ID one, a SCIM
// one) is synced exactly once per slot, and one whose connector cannot be
// built has its error recorded for status.
func TestScheduledSyncsRunOncePerSlotAcrossReplicas(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			g := graphfake.New()
			defer g.Close()
			alice := g.PutUser(graphfake.User{UPN: "alice@example.com", Mail: "alice@example.com", AccountEnabled: true})
			g.AddMember(g.PutGroup(graphfake.Group{DisplayName: "Sales"}), alice)
			s := scimfake.New()
			defer s.Close()
			bob := s.PutUser(scimfake.User{UserName: "bob@example.com", Active: true})
			s.AddMember(s.PutGroup("Editors"), bob)

			x := newTenantEnv(t, driver)
			x.connector(t, "entra", "azuread", map[string]string{"tenant_id": g.TenantID, "client_id": g.ClientID, "authority_url": g.URL(), "graph_url": g.GraphURL()},
				map[string]string{"client_secret": g.ClientSecret})
			x.connector(t, "wiki", "scim", map[string]string{"base_url": s.URL()}, map[string]string{"token": s.Token})
			entra := x.app(t, "Entra ID", "entra")
			wiki := x.app(t, "Wiki", "wiki")
			broken := x.app(t, "Broken", "scim_nowhere")

			c := &clock{t: time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)}
			for _, a := range []*accessbot.Application{entra, wiki, broken} {
				must(t, x.st.PutSchedule(ctx, &store.Schedule{TenantID: x.ten.ID, Job: dirsync.JobName(a.Name), Cron: "0 */6 * * *", TimeZone: "UTC", Since: c.Now()}))
			}
			var hooked atomic.Int64 // snapshots written, as the playbooks' hook sees them
			var replicas []*schedule.Scheduler
			for i := range 2 {
				sc, err := schedule.New(schedule.Config{Store: x.st, Owner: fmt.Sprintf("replica-%d", i), Clock: c.Now, Log: zerolog.Nop(),
					Backoff: func(int) time.Duration { return time.Hour }})
				must(t, err)
				must(t, sc.Register(dirsync.JobPrefix, &dirsource.Job{Store: x.st, Keys: x.keys, Rules: findings.NewEngine(c.Now, zerolog.Nop()), Clock: c.Now, Log: zerolog.Nop(), TempDir: t.TempDir(),
					AfterImport: func(_ context.Context, _ store.Queries, _ string, res *inventory.Result, _ time.Time) error {
						hooked.Add(1)
						return nil
					}}))
				replicas = append(replicas, sc)
			}
			tick := func(at time.Time) {
				c.Set(at)
				var wg sync.WaitGroup
				for _, sc := range replicas {
					wg.Go(func() { _ = sc.Tick(ctx) }) // Broken's slot fails by design
				}
				wg.Wait()
			}
			syncs := func() (int, int) { return g.Count("GET /users/delta"), s.Count("GET /Users") }
			for _, tc := range []struct {
				at         time.Time
				entra, scm int
			}{
				{time.Date(2026, 3, 2, 5, 30, 0, 0, time.UTC), 0, 0},  // before the first slot
				{time.Date(2026, 3, 2, 6, 0, 30, 0, time.UTC), 1, 1},  // the 06:00 slot
				{time.Date(2026, 3, 2, 6, 20, 0, 0, time.UTC), 1, 1},  // no new slot
				{time.Date(2026, 3, 2, 12, 1, 0, 0, time.UTC), 2, 2},  // the 12:00 slot
				{time.Date(2026, 3, 2, 12, 1, 30, 0, time.UTC), 2, 2}, // both replicas again: nothing
			} {
				tick(tc.at)
				if e, sc := syncs(); e != tc.entra || sc != tc.scm {
					t.Fatalf("at %s: %d Entra syncs, %d SCIM syncs; want %d, %d", tc.at.Format("15:04:05"), e, sc, tc.entra, tc.scm)
				}
			}
			// Two slots of two applications, one snapshot each: the hook
			// (playbooks' sync.completed) ran once per snapshot.
			if n := hooked.Load(); n != 2*2 {
				t.Fatalf("after-import hook ran %d times; want 4", n)
			}
			for _, a := range []*accessbot.Application{entra, wiki} {
				st, err := x.st.GetConnectorSync(ctx, x.ten.ID, a.ID)
				must(t, err)
				if status, msg := dirsync.Status(st); status != "Connected" || msg != "Data available" || !st.LastOKAt.Equal(time.Date(2026, 3, 2, 12, 1, 0, 0, time.UTC)) {
					t.Fatalf("%s: %s %s %+v", a.Name, status, msg, st)
				}
			}
			if ids, _ := x.st.ListIdentities(ctx, x.ten.ID, wiki.ID, false); len(ids) != 1 || ids[0].Email != "bob@example.com" {
				t.Fatalf("wiki identities = %+v", ids)
			}
			st, err := x.st.GetConnectorSync(ctx, x.ten.ID, broken.ID)
			must(t, err)
			if status, _ := dirsync.Status(st); status != "Error" || !strings.Contains(st.LastError, `its connector is "scim_nowhere"`) {
				t.Fatalf("broken: %s %+v", status, st)
			}
		})
	}
}
