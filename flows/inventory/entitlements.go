package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/store"
)

// entitlements replaces the application's entitlements. The file is
// streamed (store.EntitlementSource), as identities are: memory holds
// neither the file nor the stored snapshot, only the rejects.
func (j *job) entitlements(ctx context.Context, appName string, rd *csvrows.Reader) error {
	app, err := j.app(ctx, appName)
	if err != nil {
		return err
	}
	return j.done(j.q.ReplaceAppEntitlementsFrom(ctx, j.tenantID, app.ID, &entitlementRows{j: j, rd: rd}, j.at))
}

// entitlementRows feeds the file's rows to the store.
type entitlementRows struct {
	j  *job
	rd *csvrows.Reader
}

func (s *entitlementRows) Next() (store.EntitlementRow, error) {
	j := s.j
	for {
		rec, err := s.rd.Next()
		var bad *csvrows.RowError
		switch {
		case errors.Is(err, io.EOF):
			return store.EntitlementRow{}, io.EOF
		case errors.As(err, &bad):
			j.res.Rejected = append(j.res.Rejected, bad)
			j.keepNamed(rec, "", "entitlement_id")
			continue
		case err != nil:
			j.fileErr = err
			return store.EntitlementRow{}, err
		}
		c := rec.Cell
		id := c.Get("entitlement_id")
		if id == "" {
			j.reject(rec, "", "entitlement_id is empty")
			j.keepNamed(rec, "", "entitlement_id")
			continue
		}
		name := c.Get("name")
		if name == "" {
			name = id
		}
		return store.EntitlementRow{Line: rec.Line, Entitlement: accessbot.AppEntitlement{
			ExternalID: id, Name: name, Type: c.Get("type"), Labels: splitLabels(c.Get("labels"))}}, nil
	}
}

// Reject reports a row whose id an earlier row has: neither row is
// written, and the stored entitlement is kept as it was.
func (s *entitlementRows) Reject(r store.EntitlementReject) error {
	row := csvrows.Row{Line: r.Line, Cell: csvrows.CellsOf(map[string]string{"entitlement_id": r.ExternalID})}
	s.j.reject(row, "entitlement_id", fmt.Sprintf("already on line %d (both rows skipped)", r.FirstLine))
	s.j.keepNamed(row, "", "entitlement_id")
	return nil
}

func (s *entitlementRows) Keep() accessbot.SnapshotKeep { return s.j.keep }

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ";") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, strings.ToLower(l))
		}
	}
	return out
}
