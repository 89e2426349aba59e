package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
)

// identities replaces the application's identities. The file is streamed
// (store.IdentitySource): the store stages the rows, finds repeated ids
// and compares the rest with the stored snapshot in the database, so
// memory holds neither the file nor the stored snapshot, only the rejects.
func (j *job) identities(ctx context.Context, appName string, rd *csvrows.Reader) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	return j.done(j.q.ReplaceIdentitiesFrom(ctx, j.tenantID, app.ID, &identityRows{j: j, rd: rd, bad: map[int]*userimport.RowError{}}, j.at))
}

// identityRows feeds the file's rows to the store. A row with a bad value
// is staged as skipped, since a later row with its id is still a repeat;
// its reject waits for Keep, because a repeated id is the row's reject
// instead.
type identityRows struct {
	j   *job
	rd  *csvrows.Reader
	bad map[int]*userimport.RowError // by line
}

func (s *identityRows) Next() (store.IdentityRow, error) {
	j := s.j
	for {
		rec, err := s.rd.Next()
		var bad *csvrows.RowError
		switch {
		case errors.Is(err, io.EOF):
			return store.IdentityRow{}, io.EOF
		case errors.As(err, &bad):
			j.res.Rejected = append(j.res.Rejected, bad)
			j.keepNamed(rec, "identity_id", "")
			continue
		case err != nil:
			j.fileErr = err
			return store.IdentityRow{}, err
		}
		c := rec.Cell
		id := c.Get("identity_id")
		if id == "" {
			j.reject(rec, "", "identity_id is empty")
			j.keepNamed(rec, "identity_id", "")
			continue
		}
		in, field, msg := parseIdentity(c)
		in.ExternalID = id
		if field != "" {
			s.bad[rec.Line] = &userimport.RowError{File: j.file, Line: rec.Line, Field: field, Value: c.Get(field), Msg: msg}
			j.keepNamed(rec, "identity_id", "")
		}
		return store.IdentityRow{Line: rec.Line, Identity: in, Skip: field != ""}, nil
	}
}

// parseIdentity reads a row's values; field and msg name the first bad one.
func parseIdentity(c csvrows.Cells) (in accessbot.Identity, field, msg string) {
	in = accessbot.Identity{Email: c.Get("email"), DisplayName: c.Get("display_name"), Status: accessbot.IdentityActive}
	if in.Email != "" {
		if err := userimport.CheckEmail(in.Email); err != nil {
			field, msg = "email", err.Error()
		}
	}
	switch s := strings.ToLower(c.Get("status")); s {
	case "", string(accessbot.IdentityActive):
	case string(accessbot.IdentityDisabled):
		in.Status = accessbot.IdentityDisabled
	default:
		if field == "" {
			field, msg = "status", "want active or disabled"
		}
	}
	if s := c.Get("last_seen_at"); s != "" && field == "" {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			field, msg = "last_seen_at", "not an RFC 3339 time such as 2025-01-31T17:00:00Z"
		} else {
			in.LastSeenAt = &ts
		}
	}
	return in, field, msg
}

// Reject reports a row whose id an earlier row has: neither row is
// written, and the stored identity is kept as it was.
func (s *identityRows) Reject(r store.IdentityReject) error {
	delete(s.bad, r.Line)
	row := csvrows.Row{Line: r.Line, Cell: csvrows.CellsOf(map[string]string{"identity_id": r.ExternalID})}
	s.j.reject(row, "identity_id", fmt.Sprintf("already on line %d (both rows skipped)", r.FirstLine))
	s.j.keepNamed(row, "identity_id", "")
	return nil
}

func (s *identityRows) Keep() accessbot.SnapshotKeep {
	for _, e := range s.bad {
		s.j.res.Rejected = append(s.j.res.Rejected, e)
	}
	s.bad = nil
	return s.j.keep
}
