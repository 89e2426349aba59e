// Package report writes audit evidence as a table: CSV that is safe to open
// in a spreadsheet, or a PDF with the tenant's name, the time range and the
// generation time on every page.
//
// PDFs are made with codeberg.org/go-pdf/fpdf: pure Go, no cgo or external
// tool, maintained (the continuation of jung-kurt/gofpdf), and small: core
// fonts, tables by hand. Its output is deterministic for a given generation
// time (creation and modification dates are set from it), so tests can
// compare the text they extract.
package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
)

// Table is one report.
type Table struct {
	Title     string // "Access review campaign Q1 GitLab review"
	Tenant    string // the tenant's name
	From, To  time.Time
	Generated time.Time
	Columns   []string
	// Widths weigh each column's share of the page width (PDF); nil
	// shares it evenly.
	Widths []float64
	Rows   [][]string
}

// ErrShape: a row's length differs from the columns'.
var ErrShape = errors.New("a row does not have one cell per column")

func (t *Table) check() error {
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("row %d has %d cells for %d columns: %w", i+1, len(r), len(t.Columns), ErrShape)
		}
	}
	return nil
}

// Safe neutralises a cell a spreadsheet would run as a formula: one that
// starts with =, +, -, @, a tab or a carriage return gets a leading '
// (OWASP's advice for CSV injection).
func Safe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// WriteCSV writes the header row and every row, each cell made Safe.
func WriteCSV(w io.Writer, t Table) error {
	if err := t.check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	row := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		row[i] = Safe(c)
	}
	if err := cw.Write(row); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			row[i] = Safe(c)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// Layout of the PDF, in millimetres (A4 landscape).
const (
	margin     = 10.0
	lineH      = 4.0
	fontSize   = 7.5
	headerSize = 14.0
	maxCell    = 600 // characters of one cell printed; the CSV has them all
)

// Range is how a report's time range reads: "2026-01-01 to 2026-03-31 (UTC)".
func Range(from, to time.Time) string {
	switch {
	case from.IsZero() && to.IsZero():
		return "all time"
	case from.IsZero():
		return "until " + to.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	return from.UTC().Format("2006-01-02 15:04") + " to " + to.UTC().Format("2006-01-02 15:04") + " UTC"
}

// WritePDF writes the table as a PDF: a title, the tenant, the time range
// and the generation time on the first page, the column header repeated
// on every page, cells wrapped, and "page N of M" in the footer.
func WritePDF(w io.Writer, t Table) error {
	if err := t.check(); err != nil {
		return err
	}
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, margin)
	pdf.SetCreationDate(t.Generated.UTC())
	pdf.SetModificationDate(t.Generated.UTC())
	// Catalogs (fonts) in a fixed order, not Go's map order: the same
	// evidence gives the same bytes, so a re-run can be compared or hashed.
	pdf.SetCatalogSort(true)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252 for the core fonts
	pdf.SetTitle(t.Title, true)
	pdf.SetSubject("accessbot audit evidence: "+t.Tenant, true)
	pdf.SetCreator("accessbot", true)
	pdf.SetAuthor("accessbot", true)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin)
		pdf.SetFont("Helvetica", "", fontSize)
		pdf.CellFormat(0, lineH, tr(fmt.Sprintf("%s - %s - page %d of {nb}", t.Tenant, t.Title, pdf.PageNo())), "", 0, "R", false, 0, "")
	})
	pageW, pageH := pdf.GetPageSize()
	usable := pageW - 2*margin
	widths := make([]float64, len(t.Columns))
	total := 0.0
	for i := range t.Columns {
		wt := 1.0
		if i < len(t.Widths) && t.Widths[i] > 0 {
			wt = t.Widths[i]
		}
		widths[i], total = wt, total+wt
	}
	for i := range widths {
		widths[i] = widths[i] / total * usable
	}

	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", headerSize)
	pdf.MultiCell(0, 7, tr(t.Title), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	for _, l := range []string{"Tenant: " + t.Tenant, "Period: " + Range(t.From, t.To),
		"Generated: " + t.Generated.UTC().Format("2006-01-02 15:04:05") + " UTC", fmt.Sprintf("Rows: %d", len(t.Rows))} {
		pdf.CellFormat(0, 5, tr(l), "", 1, "L", false, 0, "")
	}
	pdf.Ln(2)

	lines := func(cell string, w float64) [][]byte {
		if utf8.RuneCountInString(cell) > maxCell {
			cell = string([]rune(cell)[:maxCell]) + "..."
		}
		var out [][]byte
		for _, para := range strings.Split(tr(cell), "\n") {
			ls := pdf.SplitLines([]byte(para), w-2)
			if len(ls) == 0 {
				ls = [][]byte{nil}
			}
			out = append(out, ls...)
		}
		return out
	}
	var header func()
	row := func(cells []string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, fontSize)
		split := make([][][]byte, len(cells))
		n := 1
		for i, c := range cells {
			split[i] = lines(c, widths[i])
			n = max(n, len(split[i]))
		}
		h := float64(n)*lineH + 1
		if pdf.GetY()+h > pageH-margin-lineH {
			pdf.AddPage()
			if !bold {
				header()
				pdf.SetFont("Helvetica", style, fontSize)
			}
		}
		x, y := margin, pdf.GetY()
		for i := range cells {
			if bold {
				pdf.SetFillColor(230, 230, 230)
				pdf.Rect(x, y, widths[i], h, "FD")
			} else {
				pdf.Rect(x, y, widths[i], h, "D")
			}
			for j, l := range split[i] {
				pdf.Text(x+1, y+float64(j+1)*lineH-0.6, string(l))
			}
			x += widths[i]
		}
		pdf.SetXY(margin, y+h)
	}
	header = func() { row(t.Columns, true) }
	header()
	for _, r := range t.Rows {
		row(r, false)
	}
	if len(t.Rows) == 0 {
		pdf.SetFont("Helvetica", "I", 9)
		pdf.CellFormat(0, 6, "No rows in this period.", "", 1, "L", false, 0, "")
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
