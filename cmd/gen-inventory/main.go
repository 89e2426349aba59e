// Command gen-inventory writes generated inventory CSV files for the scale
// benchmarks (docs/benchmarks/inventory.md, "Inventory at scale"):
//
//	go run ./cmd/gen-inventory -identities 100000 -roles 1000 -per 10 -seed 1 -out /tmp/inv
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/accessbot/accessbot/internal/invgen"
)

func main() {
	var s invgen.Spec
	out := flag.String("out", ".", "directory to write identities.csv, entitlements.csv and relations.csv into")
	flag.IntVar(&s.Identities, "identities", 100000, "identities")
	flag.IntVar(&s.Roles, "roles", 1000, "entitlements")
	flag.IntVar(&s.PerIdentity, "per", 10, "entitlements each identity holds")
	flag.Uint64Var(&s.Seed, "seed", 1, "random seed: the same seed writes the same files")
	flag.IntVar(&s.ChangePercent, "change", 0, "percent of relations moved to another role")
	at := flag.String("at", "2025-06-02T09:00:00Z", "reference time last_seen_at counts back from (RFC 3339)")
	flag.Parse()
	t, err := time.Parse(time.RFC3339, *at)
	if err == nil {
		s.At = t
		err = os.MkdirAll(*out, 0o755)
	}
	if err == nil {
		err = s.WriteDir(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-inventory:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d identities, %d entitlements, %d relations to %s\n", s.Identities, s.Roles, s.Relations(), *out)
}
