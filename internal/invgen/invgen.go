// Package invgen writes generated inventory CSV files (identities,
// entitlements, relations, mappings) of a given size, the same for the same seed, so
// the scale figures in BENCHMARKS.md can be reproduced anywhere.
package invgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Spec is a data set: Identities accounts, each holding PerIdentity of
// Roles entitlements (so Identities×PerIdentity relations).
type Spec struct {
	Identities  int
	Roles       int
	PerIdentity int
	Seed        uint64
	// ChangePercent moves this share of the relations to another role
	// (a "1% changed" re-upload of the same seed).
	ChangePercent int
	// At is the reference time last_seen_at counts back from.
	At time.Time
	// Employees is how many employees (user0@acme.com, …) mappings name;
	// 0: Identities×9/10, as many as the benchmarks seed.
	Employees int
}

// Relations is how many relation rows the spec makes.
func (s Spec) Relations() int { return s.Identities * s.PerIdentity }

func (s Spec) check() error {
	if s.Identities < 1 || s.Roles < 1 || s.PerIdentity < 1 || s.PerIdentity*2 > s.Roles {
		return fmt.Errorf("invgen: want identities, roles, per-identity >= 1 and per-identity <= roles/2 (got %d, %d, %d)", s.Identities, s.Roles, s.PerIdentity)
	}
	if s.Employees < 0 {
		return fmt.Errorf("invgen: employees %d: want 0 or more", s.Employees)
	}
	if s.ChangePercent < 0 || s.ChangePercent > 100 {
		return fmt.Errorf("invgen: change percent %d: want 0..100", s.ChangePercent)
	}
	return nil
}

// Identities writes identities.csv: id<i>, user<i>@acme.com, active (every
// 25th disabled), last seen 0-199 days before At.
func (s Spec) WriteIdentities(w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	r := rand.New(rand.NewPCG(s.Seed, 1))
	fmt.Fprintln(bw, "identity_id,email,display_name,status,last_seen_at")
	for i := 0; i < s.Identities; i++ {
		status := "active"
		if i%25 == 24 {
			status = "disabled"
		}
		seen := s.At.Add(-time.Duration(r.IntN(200)) * 24 * time.Hour).UTC().Format(time.RFC3339)
		fmt.Fprintf(bw, "id%d,user%d@acme.com,User %d,%s,%s\n", i, i, i, status, seen)
	}
	return bw.Flush()
}

// WriteEntitlements writes entitlements.csv: role<e>; every 10th is
// labelled privileged.
func (s Spec) WriteEntitlements(w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintln(bw, "entitlement_id,name,type,labels")
	for e := 0; e < s.Roles; e++ {
		labels := ""
		if e%10 == 0 {
			labels = "privileged;admin"
		}
		fmt.Fprintf(bw, "role%d,Role %d,role,%s\n", e, e, labels)
	}
	return bw.Flush()
}

// WriteRelations writes relations.csv: identity i holds PerIdentity
// distinct roles spread from a seeded start. With ChangePercent, that share
// of the rows names the role next to the usual one instead.
func (s Spec) WriteRelations(w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	r := rand.New(rand.NewPCG(s.Seed, 2))
	stride := s.Roles / s.PerIdentity // >= 2: role+1 is never another of the identity's roles
	fmt.Fprintln(bw, "identity_id,entitlement_id")
	row := 0
	for i := 0; i < s.Identities; i++ {
		start := r.IntN(s.Roles)
		for k := 0; k < s.PerIdentity; k++ {
			role := (start + k*stride) % s.Roles
			if s.ChangePercent > 0 && row%100 < s.ChangePercent {
				role = (role + 1) % s.Roles
			}
			row++
			fmt.Fprintf(bw, "id%d,role%d\n", i, role)
		}
	}
	return bw.Flush()
}

// WriteMappings writes mappings.csv: identity i is mapped to employee
// user<i mod Employees>@acme.com, mostly not the one its email names.
func (s Spec) WriteMappings(w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	emps := s.Employees
	if emps == 0 {
		emps = max(1, s.Identities*9/10)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintln(bw, "identity_id,employee_email")
	for i := 0; i < s.Identities; i++ {
		fmt.Fprintf(bw, "id%d,user%d@acme.com\n", i, i%emps)
	}
	return bw.Flush()
}

// WriteDir writes identities.csv, entitlements.csv and relations.csv into dir.
func (s Spec) WriteDir(dir string) error {
	for name, write := range map[string]func(io.Writer) error{
		"identities.csv": s.WriteIdentities, "entitlements.csv": s.WriteEntitlements, "relations.csv": s.WriteRelations,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("invgen: %w", err)
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("invgen: write %s: %w", name, err)
		}
	}
	return nil
}
