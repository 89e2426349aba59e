package csvrows

import (
	"fmt"
	"io"
)

// Limits bound a file and each of its cells. They are enforced while the
// file streams, so a huge file, or one huge cell, is refused after reading
// about the limit rather than after filling memory. Zero fields take the
// defaults.
type Limits struct {
	MaxBytes     int64 // the whole file; DefaultMaxBytes when 0
	MaxCellBytes int64 // one cell; DefaultMaxCellBytes when 0
	// FileSetting and CellSetting say where each limit is changed; messages
	// end with them. Defaults name the config keys.
	FileSetting, CellSetting string
}

const (
	// DefaultMaxBytes fits a million relations or a few hundred thousand
	// identities, and keeps an import's memory in the hundreds of MB.
	DefaultMaxBytes = 32 << 20
	// DefaultMaxCellBytes fits the longest real ids (an AWS ARN is at most
	// 2,048 characters) with room to spare.
	DefaultMaxCellBytes = 4 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = DefaultMaxCellBytes
	}
	if l.FileSetting == "" {
		l.FileSetting = "limits.upload_bytes in the config, or ACCESSBOT_LIMITS_UPLOAD_BYTES"
	}
	if l.CellSetting == "" {
		l.CellSetting = "limits.csv_cell_bytes in the config, or ACCESSBOT_LIMITS_CSV_CELL_BYTES"
	}
	return l
}

// FormatBytes is n for people: "32 MiB", "4 KiB", "1500 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitErr is what boundedReader returns once a limit is passed.
type limitErr struct{ row bool }

func (e *limitErr) Error() string {
	if e.row {
		return "row too long"
	}
	return "file too large"
}

// boundedReader hands the CSV reader at most one byte past the file limit,
// and at most maxRow bytes past the end of the last record read (rowStart),
// so neither the file nor one row can grow the reader's buffers beyond
// them.
type boundedReader struct {
	r        io.Reader
	read     int64
	maxFile  int64
	rowStart int64
	maxRow   int64
	err      error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	room := min(b.maxFile+1, b.rowStart+b.maxRow+1) - b.read
	if room <= 0 {
		return 0, b.tripped()
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.maxFile || b.read > b.rowStart+b.maxRow {
		return n, b.tripped()
	}
	return n, err
}

func (b *boundedReader) tripped() error {
	if b.err == nil {
		b.err = &limitErr{row: b.read <= b.maxFile}
	}
	return b.err
}

// maxRowBytes bounds the raw bytes of a row of cols cells of at most cell
// bytes each: quoting can double a cell and add two quotes and a comma, and
// the CSV reader buffers up to 4 KiB ahead.
func maxRowBytes(cols int, cell int64) int64 {
	return int64(cols)*(2*cell+3) + 4096 + 2
}
