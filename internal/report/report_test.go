package report_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/internal/report"
	"github.com/accessbot/accessbot/internal/report/pdftext"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func table(rows int) report.Table {
	t := report.Table{Title: "Access review campaign Q1 GitLab review", Tenant: "Acme Corp",
		From: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC),
		Generated: time.Date(2026, 4, 1, 8, 30, 0, 0, time.UTC),
		Columns:   []string{"item", "subject", "decision", "comment"}, Widths: []float64{1, 2, 1, 4}}
	t.Rows = append(t.Rows,
		[]string{"i1", "=HYPERLINK(\"http://evil\")", "revoke", "+1 left the team"},
		[]string{"i2", "René Müller", "keep", "-still on call; @ops agrees\nsecond line"},
		[]string{"i3", "Cat", "keep", strings.Repeat("a long comment that wraps ", 12)},
	)
	for i := 4; i <= rows; i++ {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("i%d", i), fmt.Sprintf("walt w%03d", i), "keep", ""})
	}
	return t
}

// TestCSV: exact content; formula-like cells neutralised, quotes and
// newlines quoted as RFC 4180 says.
func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteCSV(&b, table(3)); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.csv", b.Bytes())
	bad := table(3)
	bad.Rows[1] = bad.Rows[1][:2]
	if err := report.WriteCSV(&b, bad); !errors.Is(err, report.ErrShape) {
		t.Fatalf("a short row: %v", err)
	}
}

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"\rx": "'\rx", "ok": "ok", "": "", "a=b": "a=b"} {
		if got := report.Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPDF: the PDF read back has the metadata, the header lines on the
// first page, every row's text (wrapped and across pages, the column
// header repeated), "page N of M" resolved; its text is golden.
func TestPDF(t *testing.T) {
	var b bytes.Buffer
	if err := report.WritePDF(&b, table(60)); err != nil {
		t.Fatal(err)
	}
	doc, err := pdftext.Read(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("[counts] bytes=%d pages=%d", b.Len(), len(doc.Pages))
	if len(doc.Pages) < 2 {
		t.Fatalf("%d pages for 60 rows, want the table to continue on a second page", len(doc.Pages))
	}
	if doc.Info["Title"] != "Access review campaign Q1 GitLab review" || doc.Info["CreationDate"] != "D:20260401083000" ||
		!strings.Contains(doc.Info["Subject"], "Acme Corp") {
		t.Fatalf("info %v", doc.Info)
	}
	first := doc.Pages[0]
	for _, want := range []string{"Tenant: Acme Corp", "Period: 2026-03-02 09:00 to 2026-03-31 23:59 UTC", "Generated: 2026-04-01 08:30:00 UTC",
		"René Müller", "=HYPERLINK(\"http://evil\")", "second line", "page 1 of " + fmt.Sprint(len(doc.Pages))} {
		if !strings.Contains(first, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	if !strings.Contains(doc.Pages[1], "decision") || !strings.Contains(doc.Pages[len(doc.Pages)-1], "i60") {
		t.Errorf("the header is not repeated or the last row is missing:\n%s", doc.Pages[1])
	}
	golden(t, "table.pdf.txt", []byte(doc.Text()))
	// The same input gives the same bytes: the dates come from Generated.
	var again bytes.Buffer
	if err := report.WritePDF(&again, table(60)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Fatal("two PDFs of the same table differ")
	}
	if _, err := pdftext.Read([]byte("%PDF-1.3\nnot really")); !errors.Is(err, pdftext.ErrNotPDF) {
		t.Fatalf("garbage read as a PDF: %v", err)
	}
}
