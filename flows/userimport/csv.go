// Package userimport is the HR "manual upload": a CSV of employees imported
// into one tenant's users, matched by email (ignoring case), in one
// transaction. Bad rows are reported with their line number and skipped,
// unless the import is strict.
package userimport

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
)

// Columns, in the order docs/imports-and-findings.md lists them.
const (
	colEmail           = "email"
	colName            = "name"
	colManagerEmail    = "manager_email"
	colDepartment      = "department"
	colStatus          = "status"
	colTerminationDate = "termination_date"
)

var knownColumns = []string{colEmail, colName, colManagerEmail, colDepartment, colStatus, colTerminationDate}

// RowError is one rejected row: users.csv:7: email "bob@": not a valid email address.
type RowError = csvrows.RowError

// FileError is a problem with the file as a whole (header, CSV syntax):
// nothing is imported.
type FileError = csvrows.FileError

// row is one data row that passed the checks that need no store.
type row struct {
	line       int
	email      string // normalized
	rawEmail   string // as the file spells it
	name       string
	manager    string // normalized email, "" for none
	department string
	status     accessbot.UserStatus // "" when the cell is empty
	terminated *time.Time
}

// parsed is a whole file: which columns it has, its good rows and its bad ones.
type parsed struct {
	has      map[string]bool
	rows     []*row
	rejected []*RowError
	// rejectedEmails holds the line of each rejected row whose email was
	// fine, so a reference to it can say why it does not resolve.
	rejectedEmails map[string]int
}

// parseCSV reads the file and checks every row on its own. References
// between rows and to the store are checked later, in the transaction.
func parseCSV(name string, r io.Reader, lim csvrows.Limits) (*parsed, error) {
	rd, err := csvrows.NewReader(name, r, csvrows.Columns{Known: knownColumns,
		Required: []string{colEmail, colName}, RequiredNote: "email and name are required", Limits: lim})
	if err != nil {
		return nil, err
	}
	p := &parsed{has: rd.Has, rejectedEmails: map[string]int{}}
	seen := map[string]int{}
	// An email on two lines: which row is right cannot be told, so neither
	// applies and the stored user stays as it was. first maps the email's
	// email to the line of its first repeat.
	repeated := map[string]int{}
	for {
		rec, err := rd.Next()
		var bad *RowError
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &bad) {
			p.rejected = append(p.rejected, bad)
			continue
		}
		if err != nil {
			return nil, err
		}
		line, cell := rec.Line, rec.Cell
		rw, rerr := parseRow(name, line, cell)
		if rerr == nil {
			if first, dup := seen[rw.email]; dup {
				rerr = &RowError{File: name, Line: line, Field: colEmail, Value: cell.Get(colEmail), Msg: fmt.Sprintf("already on line %d (emails are compared ignoring case): both rows skipped", first)}
				if _, ok := repeated[rw.email]; !ok {
					repeated[rw.email] = line
				}
			}
		}
		if rerr != nil {
			p.rejected = append(p.rejected, rerr)
			if e := cell.Get(colEmail); CheckEmail(e) == nil && rerr.Field != colEmail {
				if _, ok := p.rejectedEmails[accessbot.NormalizeEmail(e)]; !ok {
					p.rejectedEmails[accessbot.NormalizeEmail(e)] = line
				}
			}
			continue
		}
		seen[rw.email] = line
		p.rows = append(p.rows, rw)
	}
	if len(repeated) > 0 {
		kept := p.rows[:0]
		for _, rw := range p.rows {
			again, ok := repeated[rw.email]
			if !ok {
				kept = append(kept, rw)
				continue
			}
			p.rejected = append(p.rejected, &RowError{File: name, Line: rw.line, Field: colEmail, Value: rw.rawEmail,
				Msg: fmt.Sprintf("also on line %d (emails are compared ignoring case): both rows skipped", again)})
			if _, ok := p.rejectedEmails[rw.email]; !ok {
				p.rejectedEmails[rw.email] = rw.line
			}
		}
		p.rows = kept
	}
	return p, nil
}

func parseRow(file string, line int, cell csvrows.Cells) (*row, *RowError) {
	bad := func(field, msg string) *RowError {
		return &RowError{File: file, Line: line, Field: field, Value: cell.Get(field), Msg: msg}
	}
	r := &row{line: line, name: cell.Get(colName), department: cell.Get(colDepartment)}
	email := cell.Get(colEmail)
	if email == "" {
		return nil, &RowError{File: file, Line: line, Msg: "email is empty"}
	}
	if err := CheckEmail(email); err != nil {
		return nil, bad(colEmail, err.Error())
	}
	r.email, r.rawEmail = accessbot.NormalizeEmail(email), email
	if r.name == "" {
		return nil, &RowError{File: file, Line: line, Msg: "name is empty"}
	}
	if m := cell.Get(colManagerEmail); m != "" {
		if err := CheckEmail(m); err != nil {
			return nil, bad(colManagerEmail, err.Error())
		}
		r.manager = accessbot.NormalizeEmail(m)
		if r.manager == r.email {
			return nil, bad(colManagerEmail, "a user cannot be their own manager")
		}
	}
	switch s := strings.ToLower(cell.Get(colStatus)); s {
	case "":
	case string(accessbot.UserActive), string(accessbot.UserTerminated):
		r.status = accessbot.UserStatus(s)
	default:
		return nil, bad(colStatus, "want active or terminated")
	}
	if d := cell.Get(colTerminationDate); d != "" {
		t, err := ParseDate(d)
		if err != nil {
			return nil, bad(colTerminationDate, err.Error())
		}
		if r.status == accessbot.UserActive {
			return nil, bad(colTerminationDate, "set, but status is active")
		}
		r.terminated = &t
		r.status = accessbot.UserTerminated
	}
	return r, nil
}
