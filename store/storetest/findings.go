package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// FillFindings records n open findings for tenantID through the store, the
// way rules do: rules rule-00, rule-01, … of at most perRule findings each,
// every rule's findings opened one minute after the previous rule's,
// starting at at. Severities are mixed with critical the rarest (1 in 8), and
// subjects alternate employee and identity. It returns the opened_at of the
// last rule's findings. Scale tests and benchmarks use it to make their data.
func FillFindings(tb testing.TB, st store.Store, tenantID string, n, perRule int, at time.Time) time.Time {
	tb.Helper()
	ctx := context.Background()
	kinds := []accessbot.SubjectKind{accessbot.SubjectEmployee, accessbot.SubjectIdentity}
	last := at
	for start, r := 0, 0; start < n; start, r = start+perRule, r+1 {
		ms := make([]accessbot.FindingMatch, 0, min(n, start+perRule)-start)
		for i := start; i < min(n, start+perRule); i++ {
			ms = append(ms, accessbot.FindingMatch{
				Severity: accessbot.Severities[[]int{3, 2, 1, 3, 2, 3, 1, 0}[i%8]],
				Subject:  accessbot.Subject{Kind: kinds[i%2], ID: fmt.Sprintf("s-%07d", i), Display: fmt.Sprintf("Person %d", i)},
				Details:  []byte(fmt.Sprintf(`{"why":"no MFA on account %d"}`, i)),
			})
		}
		last = at.Add(time.Duration(r) * time.Minute)
		if _, err := st.SyncFindings(ctx, tenantID, fmt.Sprintf("rule-%02d", r), ms, last); err != nil {
			tb.Fatalf("fill findings: rule %d: %v", r, err)
		}
	}
	return last
}
