// Package userimport is the HR "manual upload": a CSV of employees imported
// into one tenant's users, matched by email (ignoring case), in one
// transaction. Bad rows are reported with their line number and skipped,
// unless the import is strict.
package userimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
)

// Columns, in the order the README lists them.
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
type RowError struct {
	File  string
	Line  int
	Field string // column, "" when the row as a whole is wrong
	Value string
	Msg   string
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s %q: %s", e.File, e.Line, e.Field, e.Value, e.Msg)
}

// FileError is a problem with the file as a whole (header, CSV syntax):
// nothing is imported.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

func (e *FileError) Unwrap() error { return accessbot.ErrInvalid }

// row is one data row that passed the checks that need no store.
type row struct {
	line       int
	email      string // normalized
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
func parseCSV(name string, r io.Reader) (*parsed, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, so the message can say more
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{File: name, Line: 1, Msg: "the file is empty: want a header row such as email,name,manager_email,department,status,termination_date"}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	p := &parsed{has: map[string]bool{}, rejectedEmails: map[string]int{}}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case h == "":
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %d has no name", i+1)}
		case !slices.Contains(knownColumns, h):
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("unknown column %q (known columns: %s)", header[i], strings.Join(knownColumns, ", "))}
		case p.has[h]:
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		p.has[h] = true
		cols[i] = h
	}
	for _, req := range []string{colEmail, colName} {
		if !p.has[req] {
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("missing column %q (email and name are required)", req)}
		}
	}

	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if allEmpty(rec) {
			continue // spreadsheets export trailing ",,,," rows
		}
		if len(rec) != len(cols) {
			p.rejected = append(p.rejected, &RowError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(rec), len(cols))})
			continue
		}
		cell := map[string]string{}
		for i, v := range rec {
			cell[cols[i]] = strings.TrimSpace(v)
		}
		rw, rerr := parseRow(name, line, cell)
		if rerr == nil {
			if first, dup := seen[rw.email]; dup {
				rerr = &RowError{File: name, Line: line, Field: colEmail, Value: cell[colEmail], Msg: fmt.Sprintf("already on line %d (emails are compared ignoring case)", first)}
			}
		}
		if rerr != nil {
			p.rejected = append(p.rejected, rerr)
			if e := cell[colEmail]; CheckEmail(e) == nil && rerr.Field != colEmail {
				if _, ok := p.rejectedEmails[accessbot.NormalizeEmail(e)]; !ok {
					p.rejectedEmails[accessbot.NormalizeEmail(e)] = line
				}
			}
			continue
		}
		seen[rw.email] = line
		p.rows = append(p.rows, rw)
	}
	return p, nil
}

func parseRow(file string, line int, cell map[string]string) (*row, *RowError) {
	bad := func(field, msg string) *RowError {
		return &RowError{File: file, Line: line, Field: field, Value: cell[field], Msg: msg}
	}
	r := &row{line: line, name: cell[colName], department: cell[colDepartment]}
	email := cell[colEmail]
	if email == "" {
		return nil, &RowError{File: file, Line: line, Msg: "email is empty"}
	}
	if err := CheckEmail(email); err != nil {
		return nil, bad(colEmail, err.Error())
	}
	r.email = accessbot.NormalizeEmail(email)
	if r.name == "" {
		return nil, &RowError{File: file, Line: line, Msg: "name is empty"}
	}
	if m := cell[colManagerEmail]; m != "" {
		if err := CheckEmail(m); err != nil {
			return nil, bad(colManagerEmail, err.Error())
		}
		r.manager = accessbot.NormalizeEmail(m)
		if r.manager == r.email {
			return nil, bad(colManagerEmail, "a user cannot be their own manager")
		}
	}
	switch s := strings.ToLower(cell[colStatus]); s {
	case "":
	case string(accessbot.UserActive), string(accessbot.UserTerminated):
		r.status = accessbot.UserStatus(s)
	default:
		return nil, bad(colStatus, "want active or terminated")
	}
	if d := cell[colTerminationDate]; d != "" {
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

func allEmpty(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// csvError turns encoding/csv's error into file:line: reason. After a quote
// error the reader cannot tell where rows start again, so the whole file is
// refused rather than guessing.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read %s: %w", name, err)
	}
	msg := "malformed CSV: " + pe.Err.Error()
	if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
		msg += " (check for an unbalanced \" in this row)"
	}
	if pe.Line != pe.StartLine {
		msg += fmt.Sprintf("; the reader gave up at line %d", pe.Line)
	}
	return &FileError{File: name, Line: pe.StartLine, Msg: msg}
}
