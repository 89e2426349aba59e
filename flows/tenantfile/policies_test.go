package tenantfile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store/storetest"
)

// The example's aws-administrator chain stores its quorum and channel, and
// re-applying the file changes nothing.
func TestApplyStoresQuorumAndChannel(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	res := mustApply(t, s, exampleYAML(t))
	chains, err := s.ListApprovalChains(context.Background(), res.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var got *accessbot.ApprovalChain
	for i := range chains {
		if chains[i].Name == "aws-administrator" {
			got = &chains[i]
		}
	}
	if got == nil || len(got.Levels) != 2 {
		t.Fatalf("aws-administrator = %+v", got)
	}
	if l := got.Levels[1]; l.Rule != accessbot.RuleQuorum || l.Quorum != 2 || l.Channel != "C0SECAPPROVE" || l.ChannelOnly || len(l.Approvers) != 3 {
		t.Fatalf("level 2 = %+v, want quorum 2 of 3 in C0SECAPPROVE", l)
	}
	if again := mustApply(t, s, exampleYAML(t)); len(again.Changes) != 0 {
		t.Fatalf("re-apply changed %d things: %v", len(again.Changes), again.Changes)
	}
}

type channelsFunc func(ctx context.Context, id string) (string, error)

func (f channelsFunc) CheckChannel(ctx context.Context, id string) (string, error) { return f(ctx, id) }

// A channel the checker refuses is an error at the channel's line and
// field, and nothing is applied.
func TestApplyRefusesUnusableChannel(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	f, err := Parse("tenant.yaml", exampleYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	checker := channelsFunc(func(_ context.Context, id string) (string, error) {
		return "", errors.New("channel " + id + " is private and accessbot is not in it")
	})
	_, err = NewApplier(s, testNow, zerolog.Nop()).WithChannels(checker).Apply(context.Background(), f, false)
	line := 0 // of the channel in the example
	for i, l := range strings.Split(string(exampleYAML(t)), "\n") {
		if strings.TrimSpace(l) == "channel: C0SECAPPROVE" {
			line = i + 1
		}
	}
	want := fmt.Sprintf("tenant.yaml:%d: approval_chains[6].levels[1].channel: channel C0SECAPPROVE is private and accessbot is not in it", line)
	if err == nil || line == 0 || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v", err)
	}
	if tn, err := s.ListTenants(context.Background()); err != nil || len(tn) != 0 {
		t.Fatalf("something was applied: %v %v", tn, err)
	}
}
