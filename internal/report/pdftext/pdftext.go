// Package pdftext reads back what a PDF of package report says, for tests:
// its page count, its Info dictionary and the text of each page. It is a
// small reader for the PDFs fpdf writes (objects in page order,
// Flate-compressed content streams, text shown with Tj), not a general PDF
// parser; it refuses what it does not understand.
package pdftext

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"
)

// Doc is what a PDF says.
type Doc struct {
	Version string
	Pages   []string          // each page's text, one line per Tj, in drawing order
	Info    map[string]string // Title, Subject, Author, Creator, Producer, CreationDate ...
}

var (
	objRE    = regexp.MustCompile(`(?s)(\d+) 0 obj\s*(.*?)endobj`)
	streamRE = regexp.MustCompile(`(?s)^(<<.*?>>)\s*stream\r?\n(.*)\r?\nendstream\s*$`)
	infoRE   = regexp.MustCompile(`/(Title|Subject|Author|Creator|Producer|CreationDate|ModDate) \(`)
)

// ErrNotPDF: the bytes are not a PDF this reader understands.
var ErrNotPDF = errors.New("not a PDF this reader understands")

// Read parses b.
func Read(b []byte) (*Doc, error) {
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		return nil, fmt.Errorf("no %%PDF- header: %w", ErrNotPDF)
	}
	if !bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")) || !bytes.Contains(b, []byte("\ntrailer")) && !bytes.Contains(b, []byte("trailer")) {
		return nil, fmt.Errorf("no trailer or %%%%EOF: %w", ErrNotPDF)
	}
	d := &Doc{Version: string(b[5:8]), Info: map[string]string{}}
	pages := 0
	for _, m := range objRE.FindAllSubmatch(b, -1) {
		body := m[2]
		if sm := streamRE.FindSubmatch(body); sm != nil {
			data := sm[2]
			if bytes.Contains(sm[1], []byte("/FlateDecode")) {
				r, err := zlib.NewReader(bytes.NewReader(data))
				if err != nil {
					return nil, fmt.Errorf("object %s: %w", m[1], err)
				}
				if data, err = io.ReadAll(r); err != nil {
					return nil, fmt.Errorf("object %s: %w", m[1], err)
				}
			}
			if bytes.Contains(sm[1], []byte("/Length1")) || bytes.Contains(sm[1], []byte("/Subtype")) {
				continue // a font or an image
			}
			if t, ok := text(data); ok && pages > 0 && len(d.Pages) < pages {
				d.Pages = append(d.Pages, t)
			}
			continue
		}
		if bytes.Contains(body, []byte("/Type /Page\n")) || bytes.Contains(body, []byte("/Type /Page ")) || bytes.HasSuffix(bytes.TrimSpace(body), []byte("/Type /Page")) {
			pages++
		}
		if loc := infoRE.FindAllSubmatchIndex(body, -1); loc != nil && bytes.Contains(body, []byte("/Producer")) {
			for _, l := range loc {
				key := string(body[l[2]:l[3]])
				s, _ := literal(body[l[1]-1:])
				d.Info[key] = decodeInfo(s)
			}
		}
	}
	if pages == 0 || len(d.Pages) != pages {
		return nil, fmt.Errorf("%d pages, %d content streams: %w", pages, len(d.Pages), ErrNotPDF)
	}
	return d, nil
}

// Text is every page's text, pages separated by a form feed line.
func (d *Doc) Text() string { return strings.Join(d.Pages, "\n\f\n") }

// text returns the strings a content stream shows with Tj, one per line.
func text(stream []byte) (string, bool) {
	var lines []string
	found := false
	for i := 0; i < len(stream); i++ {
		if stream[i] != '(' {
			continue
		}
		s, n := literal(stream[i:])
		rest := bytes.TrimLeft(stream[i+n:], " \t\r\n")
		if bytes.HasPrefix(rest, []byte("Tj")) {
			found = true
			u, err := charmap.Windows1252.NewDecoder().String(s)
			if err != nil {
				u = s
			}
			lines = append(lines, u)
		}
		i += n - 1
	}
	if !found && !bytes.Contains(stream, []byte(" re")) {
		return "", false
	}
	return strings.Join(lines, "\n"), true
}

// literal reads a PDF literal string starting at b[0] == '(' and returns it
// unescaped with the number of bytes it took.
func literal(b []byte) (string, int) {
	var out []byte
	depth := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '(' && depth == 0 && i == 0:
			depth = 1
			continue
		case c == '\\' && i+1 < len(b):
			i++
			switch e := b[i]; e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v, j := 0, 0
					for ; j < 3 && i+j < len(b) && b[i+j] >= '0' && b[i+j] <= '7'; j++ {
						v = v*8 + int(b[i+j]-'0')
					}
					out = append(out, byte(v))
					i += j - 1
				} else {
					out = append(out, e)
				}
			}
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return string(out), i + 1
			}
		}
		out = append(out, c)
	}
	return string(out), len(b)
}

// decodeInfo reads a UTF-16BE string with its byte order mark, as fpdf
// writes UTF-8 metadata; other strings are returned as they are.
func decodeInfo(s string) string {
	if !strings.HasPrefix(s, "\xfe\xff") {
		return s
	}
	b := []byte(s[2:])
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}
