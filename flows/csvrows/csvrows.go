// Package csvrows reads the CSV files of the manual uploads (employees,
// application inventory): a header naming known columns in any order and
// letter case, then rows of cells by column, with errors that name the
// file and line.
package csvrows

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
)

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

// Columns is what a header may and must name (lower case).
type Columns struct {
	Known    []string
	Required []string
	// RequiredNote follows a missing column's name in parentheses;
	// "required: " and the Required list when empty.
	RequiredNote string
	// Limits bound the file and each cell.
	Limits Limits
}

// Row is one data row: its line and its cells (trimmed) by column.
type Row struct {
	Line int
	Cell Cells
}

// Cells are a row's cells, read by column name. A slice beside the header's
// columns rather than a map per row: a map costs hundreds of bytes, which
// for short rows is many times the file's own size.
type Cells struct {
	cols *[]string // the header's, shared by every row
	vals []string  // by position; shorter than the header for a short row
}

// Get is the cell of column col, "" when the row or the header has none.
func (c Cells) Get(col string) string {
	if c.cols == nil {
		return ""
	}
	for i, h := range *c.cols {
		if h == col {
			if i < len(c.vals) {
				return c.vals[i]
			}
			return ""
		}
	}
	return ""
}

// Map is the cells by column, for tests and messages.
func (c Cells) Map() map[string]string {
	m := make(map[string]string, len(c.vals))
	for i, v := range c.vals {
		m[(*c.cols)[i]] = v
	}
	return m
}

// Reader reads a file's header, then its rows one at a time.
type Reader struct {
	Has      map[string]bool // the columns the header names
	name     string
	cr       *csv.Reader
	cols     []string
	in       *boundedReader
	lim      Limits
	lastLine int // of the last record read
}

// NewReader reads and checks the header of the file called name: unknown,
// unnamed, repeated and missing required columns are a *FileError.
func NewReader(name string, r io.Reader, c Columns) (*Reader, error) {
	lim := c.Limits.withDefaults()
	in := &boundedReader{r: r, maxFile: lim.MaxBytes, maxRow: maxRowBytes(len(c.Known), lim.MaxCellBytes)}
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // counted in Next, so the message can say more
	cr.ReuseRecord = true
	rd := &Reader{Has: map[string]bool{}, name: name, cr: cr, in: in, lim: lim}
	header, err := rd.read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{File: name, Line: 1, Msg: "the file is empty: want a header row such as " + strings.Join(c.Known, ",")}
	}
	if err != nil {
		return nil, err
	}
	rd.cols = make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case h == "":
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %d has no name", i+1)}
		case !slices.Contains(c.Known, h):
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("unknown column %q (known columns: %s)", header[i], strings.Join(c.Known, ", "))}
		case rd.Has[h]:
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		rd.Has[h] = true
		rd.cols[i] = h
	}
	in.maxRow = maxRowBytes(len(rd.cols), lim.MaxCellBytes)
	note := c.RequiredNote
	if note == "" {
		note = "required: " + strings.Join(c.Required, ", ")
	}
	for _, req := range c.Required {
		if !rd.Has[req] {
			return nil, &FileError{File: name, Line: 1, Msg: fmt.Sprintf("missing column %q (%s)", req, note)}
		}
	}
	return rd, nil
}

// Next returns the next row that is not blank (spreadsheets export
// trailing ",,," rows), or io.EOF after the last. A row with more or fewer
// fields than the header is a *RowError: skip it and read on; the Row
// returned with it has the cells that are there, by position, so an import
// can tell what the row names and keep that. Broken CSV is a *FileError:
// stop there.
func (r *Reader) Next() (Row, error) {
	for {
		rec, err := r.read()
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		if err != nil {
			return Row{}, err
		}
		line := r.lastLine
		if allEmpty(rec) {
			continue
		}
		vals := make([]string, min(len(rec), len(r.cols)))
		for i := range vals {
			vals[i] = strings.TrimSpace(rec[i])
		}
		cell := Cells{cols: &r.cols, vals: vals}
		if len(rec) != len(r.cols) {
			return Row{Line: line, Cell: cell}, &RowError{File: r.name, Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(rec), len(r.cols))}
		}
		return Row{Line: line, Cell: cell}, nil
	}
}

// read reads one record within the limits: a file or a cell over its
// limit is a *FileError that names the limit and where to change it.
func (r *Reader) read() ([]string, error) {
	rec, err := r.cr.Read()
	var le *limitErr
	switch {
	case errors.As(err, &le) && le.row:
		return nil, &FileError{File: r.name, Line: r.lastLine + 1, Msg: fmt.Sprintf(
			"the row after line %d is too long: a cell is over the limit of %s per cell; nothing was imported (to change it: %s)",
			r.lastLine, FormatBytes(r.lim.MaxCellBytes), r.lim.CellSetting)}
	case errors.As(err, &le):
		return nil, &FileError{File: r.name, Line: r.lastLine + 1, Msg: fmt.Sprintf(
			"the file is larger than the limit of %s; nothing was imported (to change it: %s)",
			FormatBytes(r.lim.MaxBytes), r.lim.FileSetting)}
	case errors.Is(err, io.EOF):
		return nil, err
	case err != nil:
		return nil, csvError(r.name, err)
	}
	r.lastLine, _ = r.cr.FieldPos(0)
	r.in.rowStart = r.cr.InputOffset()
	for i, v := range rec {
		if int64(len(v)) > r.lim.MaxCellBytes {
			col := fmt.Sprintf("column %d", i+1)
			if i < len(r.cols) {
				col = fmt.Sprintf("column %q", r.cols[i])
			}
			return nil, &FileError{File: r.name, Line: r.lastLine, Msg: fmt.Sprintf(
				"%s holds %s, over the limit of %s per cell; nothing was imported (to change it: %s)",
				col, FormatBytes(int64(len(v))), FormatBytes(r.lim.MaxCellBytes), r.lim.CellSetting)}
		}
	}
	return rec, nil
}

// Table is a whole file: the columns its header names, its rows, and the
// rows rejected before any meaning was given to them (wrong field count),
// with their cells by position in Malformed.
type Table struct {
	Has       map[string]bool
	Rows      []Row
	Rejected  []*RowError
	Malformed []Row
}

// ReadAll reads the header and every row.
func ReadAll(name string, r io.Reader, c Columns) (*Table, error) {
	rd, err := NewReader(name, r, c)
	if err != nil {
		return nil, err
	}
	t := &Table{Has: rd.Has}
	for {
		row, err := rd.Next()
		var bad *RowError
		switch {
		case errors.Is(err, io.EOF):
			return t, nil
		case errors.As(err, &bad):
			t.Rejected = append(t.Rejected, bad)
			t.Malformed = append(t.Malformed, row)
		case err != nil:
			return nil, err
		default:
			t.Rows = append(t.Rows, row)
		}
	}
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
