package playbooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
)

// Offers lists the playbooks a person may run by hand on an object of
// type t about application appID ("" when none): the active playbooks of
// that type, appID's integration-specific ones first, then the global ones.
func (s *Service) Offers(ctx context.Context, tenantID string, t accessbot.PlaybookType, appID string) ([]accessbot.Playbook, error) {
	all, err := s.st.ListPlaybooks(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("playbooks to offer: %w", err)
	}
	return Select(all, ManualType(t), appID), nil
}

// IdentityGetter reads an identity; store.Queries is one.
type IdentityGetter interface {
	GetIdentity(ctx context.Context, tenantID, id string) (*accessbot.Identity, error)
}

// FindingAppID is the application a finding is about: the application
// itself, or the application of the identity (an account in it); "" when
// it is about neither or they are gone.
func FindingAppID(ctx context.Context, q IdentityGetter, f *accessbot.Finding) (string, error) {
	switch f.Subject.Kind {
	case accessbot.SubjectApplication:
		return f.Subject.ID, nil
	case accessbot.SubjectIdentity:
		id, err := q.GetIdentity(ctx, f.TenantID, f.Subject.ID)
		if errors.Is(err, accessbot.ErrNotFound) {
			return "", nil // an external tool's identity id need not be one of ours
		}
		if err != nil {
			return "", fmt.Errorf("application of finding %s: %w", f.ID, err)
		}
		return id.AppID, nil
	}
	return "", nil
}

// Manual events happen when they are run (RunManual's clock), not when
// the object last changed: their At is left zero.

// ManualFinding is the event of a manual run on finding f (about appID).
func ManualFinding(f *accessbot.Finding, appID string) Event {
	ev := FindingEvent(ManualType(accessbot.PlaybookFinding), f)
	ev.AppID, ev.At = appID, time.Time{}
	return ev
}

// ManualRequest is the event of a manual run on request r.
func ManualRequest(r *accessbot.AccessRequest) Event {
	ev := RequestEvent(ManualType(accessbot.PlaybookRequest), r)
	ev.At = time.Time{}
	return ev
}

// ManualReview is the event of a manual run on review item it.
func ManualReview(it *accessbot.ReviewItem) Event {
	ev := ReviewEvent(ManualType(accessbot.PlaybookReview), it)
	ev.At = time.Time{}
	return ev
}
