package csvrows

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
)

var cols = Columns{Known: []string{"id", "name", "email"}, Required: []string{"id"}}

func TestReadAllHeaderErrors(t *testing.T) {
	tests := []struct {
		name, in string
		cols     Columns
		want     string
	}{
		{"empty file", "", cols, "f.csv:1: the file is empty: want a header row such as id,name,email"},
		{"unnamed column", "id,,name\n", cols, "f.csv:1: column 2 has no name"},
		{"unknown column", "id,Phone\n", cols, `f.csv:1: unknown column "Phone" (known columns: id, name, email)`},
		{"repeated column", "id,name,NAME\n", cols, `f.csv:1: column "name" appears twice`},
		{"missing required", "name,email\n", cols, `f.csv:1: missing column "id" (required: id)`},
		{"missing required, own note", "name\n", Columns{Known: cols.Known, Required: []string{"id"}, RequiredNote: "id is required"},
			`f.csv:1: missing column "id" (id is required)`},
		{"unbalanced quote", "id,name\n1,\"Ann\n2,Bob\n", cols, "f.csv:2: malformed CSV: extraneous or missing \" in quoted-field (check for an unbalanced \" in this row); the reader gave up at line 3"},
		{"bare quote", "id,name\n1,An\"n\n", cols, "f.csv:2: malformed CSV: bare \" in non-quoted-field (check for an unbalanced \" in this row)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadAll("f.csv", strings.NewReader(tt.in), tt.cols)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FileError", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("err = %q\nwant  %q", err, tt.want)
			}
			if !errors.Is(err, accessbot.ErrInvalid) {
				t.Errorf("err %v is not accessbot.ErrInvalid", err)
			}
		})
	}
}

func TestReadAllRows(t *testing.T) {
	tests := []struct {
		name, in     string
		wantHas      []string
		wantRows     []wantRow
		wantRejected []string
	}{
		{
			name:     "any order and case, BOM, trimmed cells",
			in:       "\ufeffName , ID\n  Ann ,1\n",
			wantHas:  []string{"id", "name"},
			wantRows: []wantRow{{Line: 2, Cell: map[string]string{"name": "Ann", "id": "1"}}},
		},
		{
			name:    "blank rows (any field count) skipped, lines counted",
			in:      "id,name\n1,Ann\n,\n \t, \n2,Bob\n,,\n",
			wantHas: []string{"id", "name"},
			wantRows: []wantRow{
				{Line: 2, Cell: map[string]string{"id": "1", "name": "Ann"}},
				{Line: 5, Cell: map[string]string{"id": "2", "name": "Bob"}},
			},
		},
		{
			name:     "wrong field count rejected, reading goes on",
			in:       "id,name,email\n1,Ann\n2,Bob,bob@example.com,x\n3,Cy,cy@example.com\n",
			wantHas:  []string{"id", "name", "email"},
			wantRows: []wantRow{{Line: 4, Cell: map[string]string{"id": "3", "name": "Cy", "email": "cy@example.com"}}},
			wantRejected: []string{
				"f.csv:2: 2 fields, but the header has 3",
				"f.csv:3: 4 fields, but the header has 3",
			},
		},
		{
			name:    "quoted field over two lines: the row's first line",
			in:      "id,name\n1,\"Ann\nSmith\"\n2,Bob\n",
			wantHas: []string{"id", "name"},
			wantRows: []wantRow{
				{Line: 2, Cell: map[string]string{"id": "1", "name": "Ann\nSmith"}},
				{Line: 4, Cell: map[string]string{"id": "2", "name": "Bob"}},
			},
		},
		{
			name:    "header only",
			in:      "id\n",
			wantHas: []string{"id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ReadAll("f.csv", strings.NewReader(tt.in), cols)
			if err != nil {
				t.Fatal(err)
			}
			wantHas := map[string]bool{}
			for _, c := range tt.wantHas {
				wantHas[c] = true
			}
			if !reflect.DeepEqual(tab.Has, wantHas) {
				t.Errorf("Has = %v, want %v", tab.Has, wantHas)
			}
			var got []wantRow
			for _, r := range tab.Rows {
				got = append(got, wantRow{Line: r.Line, Cell: r.Cell.Map()})
			}
			if !reflect.DeepEqual(got, tt.wantRows) {
				t.Errorf("Rows = %#v\nwant   %#v", got, tt.wantRows)
			}
			var rejected []string
			for _, r := range tab.Rejected {
				rejected = append(rejected, r.Error())
			}
			if !reflect.DeepEqual(rejected, tt.wantRejected) {
				t.Errorf("Rejected = %q\nwant       %q", rejected, tt.wantRejected)
			}
		})
	}
}

func TestRowError(t *testing.T) {
	tests := []struct {
		err  RowError
		want string
	}{
		{RowError{File: "u.csv", Line: 7, Msg: "email is empty"}, "u.csv:7: email is empty"},
		{RowError{File: "u.csv", Line: 7, Field: "email", Value: "bob@", Msg: "not a valid email address"}, `u.csv:7: email "bob@": not a valid email address`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// wantRow is a Row with its cells as a map.
type wantRow struct {
	Line int
	Cell map[string]string
}
