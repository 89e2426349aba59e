package inventory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/accessbot/accessbot/flows/userimport"
)

// record is one data row: its line and its cells by column.
type record struct {
	line int
	cell map[string]string
}

// table is a parsed file: the columns its header has, its rows, and rows
// rejected before any meaning was given to them (wrong field count).
type table struct {
	has      map[string]bool
	rows     []record
	rejected []*userimport.RowError
}

// readCSV reads a header (case-insensitive, any order; unknown and repeated
// columns refused; required ones checked) and every row. Cells are trimmed.
func readCSV(name string, r io.Reader, known, required []string) (*table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &userimport.FileError{File: name, Line: 1, Msg: "the file is empty: want a header row such as " + strings.Join(known, ",")}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	t := &table{has: map[string]bool{}}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case h == "":
			return nil, &userimport.FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %d has no name", i+1)}
		case !slices.Contains(known, h):
			return nil, &userimport.FileError{File: name, Line: 1, Msg: fmt.Sprintf("unknown column %q (known columns: %s)", header[i], strings.Join(known, ", "))}
		case t.has[h]:
			return nil, &userimport.FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		t.has[h] = true
		cols[i] = h
	}
	for _, req := range required {
		if !t.has[req] {
			return nil, &userimport.FileError{File: name, Line: 1, Msg: fmt.Sprintf("missing column %q (required: %s)", req, strings.Join(required, ", "))}
		}
	}
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
			continue // spreadsheets export trailing ",,," rows
		}
		if len(rec) != len(cols) {
			t.rejected = append(t.rejected, &userimport.RowError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(rec), len(cols))})
			continue
		}
		cell := make(map[string]string, len(cols))
		for i, v := range rec {
			cell[cols[i]] = strings.TrimSpace(v)
		}
		t.rows = append(t.rows, record{line: line, cell: cell})
	}
	return t, nil
}

func allEmpty(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// csvError reports broken CSV as file:line: reason. After a quote error the
// reader cannot tell where rows start again, so the file is refused whole.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read %s: %w", name, err)
	}
	msg := "malformed CSV: " + pe.Err.Error()
	if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
		msg += " (check for an unbalanced \" in this row)"
	}
	return &userimport.FileError{File: name, Line: pe.StartLine, Msg: msg}
}
