package csvrows

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// source streams head, then n bytes of fill (repeated), then tail, without
// holding them; read counts what was taken from it.
type source struct {
	head, tail string
	fill       string
	n          int64
	read       int64
}

func (s *source) Read(p []byte) (int, error) {
	total := int64(len(s.head)) + s.n + int64(len(s.tail))
	if s.read >= total {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) && s.read < total {
		switch {
		case s.read < int64(len(s.head)):
			p[i] = s.head[s.read]
		case s.read < int64(len(s.head))+s.n:
			p[i] = s.fill[(s.read-int64(len(s.head)))%int64(len(s.fill))]
		default:
			p[i] = s.tail[s.read-int64(len(s.head))-s.n]
		}
		i++
		s.read++
	}
	return i, nil
}

// allocated runs fn and returns the bytes it allocated in total.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLimitsRefuseWhileStreaming(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name     string
		src      *source
		lim      Limits
		want     string
		maxRead  int64  // bytes the reader may take from the source
		maxAlloc uint64 // bytes it may allocate meanwhile
	}{
		{name: "60 MiB cell, quoted", src: &source{head: "id,name\n1,\"", fill: "a", n: 60 * mib, tail: "\"\n"},
			want:    `f.csv:2: the row after line 1 is too long: a cell is over the limit of 4 KiB per cell; nothing was imported (to change it: limits.csv_cell_bytes in the config, or ACCESSBOT_LIMITS_CSV_CELL_BYTES)`,
			maxRead: 64 << 10, maxAlloc: 1 * mib},
		{name: "60 MiB cell, unquoted", src: &source{head: "id,name\n1,", fill: "a", n: 60 * mib, tail: "\n"},
			want:    `f.csv:2: the row after line 1 is too long`,
			maxRead: 64 << 10, maxAlloc: 1 * mib},
		{name: "cell one byte over, own setting", src: &source{head: "id,name\n1,", fill: "a", n: 101, tail: "\n"},
			lim:     Limits{MaxCellBytes: 100, CellSetting: "--max-cell"},
			want:    `f.csv:2: column "name" holds 101 bytes, over the limit of 100 bytes per cell; nothing was imported (to change it: --max-cell)`,
			maxRead: 64 << 10, maxAlloc: 1 * mib},
		{name: "1 GiB file", src: &source{head: "id,name\n", fill: "u-123456,role-read-write\n", n: 1024 * mib},
			lim:  Limits{MaxBytes: 1 * mib},
			want: "the file is larger than the limit of 1 MiB; nothing was imported (to change it: limits.upload_bytes in the config, or ACCESSBOT_LIMITS_UPLOAD_BYTES)",
			// ReadAll keeps the rows it read before the limit: memory
			// follows the limit, not the file.
			maxRead: 1*mib + 1, maxAlloc: 16 * mib},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() {
				_, err = ReadAll("f.csv", tc.src, Columns{Known: []string{"id", "name"}, Limits: tc.lim})
			})
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant a *FileError containing %q", err, tc.want)
			}
			t.Logf("read %d bytes of %d, allocated %d", tc.src.read, int64(len(tc.src.head))+tc.src.n+int64(len(tc.src.tail)), alloc)
			if tc.src.read > tc.maxRead {
				t.Errorf("read %d bytes from the source, want at most %d", tc.src.read, tc.maxRead)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("allocated %d bytes, want at most %d", alloc, tc.maxAlloc)
			}
		})
	}
	// At the limits exactly, the file reads.
	src := &source{head: "id,name\n1,", fill: "a", n: 100, tail: "\n"}
	size := int64(len(src.head)) + src.n + int64(len(src.tail))
	if _, err := ReadAll("f.csv", src, Columns{Known: []string{"id", "name"}, Limits: Limits{MaxBytes: size, MaxCellBytes: 100}}); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
}
