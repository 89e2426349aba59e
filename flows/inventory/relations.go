package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/store"
)

// relations replaces the application's relations. A rejected row keeps
// every stored relation of the identity and of the entitlement it names
// (either may be the typo), and every relation when it names neither.
//
// The file is streamed: rows go to the store one at a time and the store
// compares them with the stored snapshot in the database, checking that
// both ends exist and that no pair repeats (store.RelationSource), so
// memory holds neither the file nor the stored snapshot.
func (j *job) relations(ctx context.Context, appName string, rd *csvrows.Reader) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	return j.done(j.q.ReplaceRelationsFrom(ctx, j.tenantID, app.ID, &relationRows{j: j, rd: rd, app: app.Name}, j.at))
}

// relationRows feeds the file's rows to the store, rejecting those with an
// empty end or the wrong number of fields on the way.
type relationRows struct {
	j   *job
	rd  *csvrows.Reader
	app string
}

func (s *relationRows) Next() (int, accessbot.RelationKey, error) {
	for {
		rec, err := s.rd.Next()
		var bad *csvrows.RowError
		switch {
		case errors.Is(err, io.EOF):
			return 0, accessbot.RelationKey{}, io.EOF
		case errors.As(err, &bad):
			s.j.res.Rejected = append(s.j.res.Rejected, bad)
			s.j.keepNamed(rec, "identity_id", "entitlement_id")
			continue
		case err != nil:
			s.j.fileErr = err
			return 0, accessbot.RelationKey{}, err
		}
		k := accessbot.RelationKey{IdentityExternalID: rec.Cell.Get("identity_id"), EntitlementExternalID: rec.Cell.Get("entitlement_id")}
		switch {
		case k.IdentityExternalID == "":
			s.j.reject(rec, "", "identity_id is empty")
		case k.EntitlementExternalID == "":
			s.j.reject(rec, "", "entitlement_id is empty")
		default:
			return rec.Line, k, nil
		}
		s.j.keepNamed(rec, "identity_id", "entitlement_id")
	}
}

// Reject reports a row the store left out. A row naming an unknown end
// keeps what it names; a repeated pair says the same thing twice, and the
// first row stands.
func (s *relationRows) Reject(r store.RelationReject) error {
	row := csvrows.Row{Line: r.Line, Cell: csvrows.CellsOf(map[string]string{"identity_id": r.Key.IdentityExternalID, "entitlement_id": r.Key.EntitlementExternalID})}
	k := r.Key
	switch r.Problem {
	case store.UnknownIdentity:
		s.j.reject(row, "identity_id", fmt.Sprintf("application %s has no such identity (upload it with import identities first)", s.app))
	case store.UnknownEntitlement:
		s.j.reject(row, "entitlement_id", fmt.Sprintf("application %s has no such entitlement (upload it with import entitlements first)", s.app))
	case store.RepeatedRelation:
		s.j.reject(row, "", fmt.Sprintf("relation %s → %s already on line %d", k.IdentityExternalID, k.EntitlementExternalID, r.FirstLine))
		return nil
	default:
		return fmt.Errorf("line %d: unknown problem %d", r.Line, r.Problem)
	}
	s.j.keepNamed(row, "identity_id", "entitlement_id")
	return nil
}

func (s *relationRows) Keep() accessbot.SnapshotKeep { return s.j.keep }

// Changed is told by the store which identities' relations changed
// (store.RelationChanges), for the finding rules.
func (s *relationRows) Changed(identityIDs []string, all bool) {
	s.j.changed = &changedIdentities{ids: identityIDs, all: all}
}
