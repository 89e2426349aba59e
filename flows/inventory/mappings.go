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

// mappings replaces identity→employee mappings. A rejected row keeps the
// stored mappings of every identity (with that id) and of the employee it
// names, and every mapping in scope when it names neither.
//
// The file is streamed (store.MappingSource): the store resolves each row's
// identity and employee, finds repeated identities and compares the rest
// with the stored mappings in the database, so memory holds neither the
// file nor the stored mappings, only the rejects.
func (j *job) mappings(ctx context.Context, appName string, rd *csvrows.Reader) error {
	src := &mappingRows{j: j, rd: rd, appByName: map[string]*accessbot.Application{}}
	var scope []string
	if appName != "" {
		a, err := j.app(ctx, appName)
		if err != nil {
			return err
		}
		src.only, scope = a, []string{a.ID}
	}
	apps, err := j.q.ListApplications(ctx, j.tenantID, "", 0)
	if err != nil {
		return err
	}
	for i := range apps {
		src.appByName[strings.ToLower(apps[i].Name)] = &apps[i]
	}
	return j.done(j.q.ReplaceIdentityMappingsFrom(ctx, j.tenantID, scope, src))
}

// mappingRows feeds the file's rows to the store. Rows it rejects itself
// (an empty or unknown id or application) are staged as skipped, with the
// application they may name, so that the store keeps what they name.
type mappingRows struct {
	j         *job
	rd        *csvrows.Reader
	only      *accessbot.Application // --app; nil: every application
	appByName map[string]*accessbot.Application
}

func (s *mappingRows) Next() (store.MappingRow, error) {
	j := s.j
	for {
		rec, err := s.rd.Next()
		var bad *csvrows.RowError
		switch {
		case errors.Is(err, io.EOF):
			return store.MappingRow{}, io.EOF
		case errors.As(err, &bad):
			j.res.Rejected = append(j.res.Rejected, bad)
			return s.row(rec, s.only, true), nil
		case err != nil:
			j.fileErr = err
			return store.MappingRow{}, err
		}
		if rec.Cell.Get("identity_id") == "" {
			j.reject(rec, "", "identity_id is empty")
			return s.row(rec, s.only, true), nil
		}
		app := s.only
		if name := rec.Cell.Get("app"); name != "" {
			a := s.appByName[strings.ToLower(name)]
			switch {
			case a == nil:
				j.reject(rec, "app", "the tenant has no such application")
				return s.row(rec, s.only, true), nil
			case s.only != nil && a.ID != s.only.ID:
				j.reject(rec, "app", fmt.Sprintf("--app is %s", s.only.Name))
				continue // names nothing in scope
			}
			app = a
		}
		return s.row(rec, app, false), nil
	}
}

// row is rec for the store: its identity is looked for in app (every
// application when nil).
func (s *mappingRows) row(rec csvrows.Row, app *accessbot.Application, skip bool) store.MappingRow {
	r := store.MappingRow{Line: rec.Line, IdentityExternalID: rec.Cell.Get("identity_id"), Email: rec.Cell.Get("employee_email"), Skip: skip}
	if app != nil {
		r.AppID = app.ID
	}
	return r
}

func (s *mappingRows) Reject(r store.MappingReject) error {
	row := csvrows.Row{Line: r.Line, Cell: csvrows.CellsOf(map[string]string{"identity_id": r.IdentityExternalID, "employee_email": r.Email})}
	switch r.Problem {
	case store.NoSuchIdentity:
		s.j.reject(row, "identity_id", "no such identity (upload the application's identities first)")
	case store.AmbiguousIdentity:
		s.j.reject(row, "identity_id", "several applications have this identity: add an app column or use --app")
	case store.RepeatedMapping:
		s.j.reject(row, "identity_id", fmt.Sprintf("already on line %d (both rows skipped)", r.FirstLine))
	case store.UnknownEmployee:
		if r.Email == "" {
			s.j.reject(row, "", "employee_email is empty")
		} else {
			s.j.reject(row, "employee_email", "no employee with this email in the tenant")
		}
	default:
		return fmt.Errorf("line %d: unknown problem %d", r.Line, r.Problem)
	}
	return nil
}
