package bot

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// The read path's decoders walk a frame or payload once with a validating
// tokenizer and no reflection, where encoding/json scans every input twice
// (validity, then decode) and skips unread subtrees by scanning them again.
// They read the common shape only: a key that encoding/json would match in
// another case, a duplicate it would merge, a value of a kind it would
// refuse, a string that is not valid UTF-8 — anything of that sort makes
// them give up (ok false), and the caller decodes with encoding/json as
// before. So what an odd or hostile frame gets does not change;
// wire_test.go holds the two side by side.

// wire is one pass over one input; pooled, as a tokenizer is a few KB.
type wire struct {
	in  []byte
	buf bytes.Buffer // over in: jsontext reads a bytes.Buffer without copying
	dec jsontext.Decoder
	key []byte // the current object key, unquoted
	bad bool   // given up: the caller falls back to encoding/json
}

var wires = sync.Pool{New: func() any { return new(wire) }}

func newWire(in []byte) *wire {
	w := wires.Get().(*wire)
	w.in, w.bad = in, false
	w.buf = *bytes.NewBuffer(in)
	// encoding/json takes the last of duplicate keys; invalid UTF-8 is
	// refused (encoding/json would replace it), so such input falls back.
	w.dec.Reset(&w.buf, jsontext.AllowDuplicateNames(true))
	return w
}

// free returns w to the pool, keeping nothing of its input.
func (w *wire) free() {
	w.in, w.key = nil, w.key[:0]
	w.buf = bytes.Buffer{}
	w.dec.Reset(&w.buf)
	wires.Put(w)
}

func (w *wire) fail() bool {
	w.bad = true
	return false
}

func (w *wire) peek() jsontext.Kind {
	if w.bad {
		return 0
	}
	return w.dec.PeekKind()
}

// open reads the '{' of an object; false (and failed) for anything else.
func (w *wire) open() bool {
	if w.peek() != '{' {
		return w.fail()
	}
	if _, err := w.dec.ReadToken(); err != nil {
		return w.fail()
	}
	return true
}

// openOrNull reads the '{' of an object and reports true, or a null (which
// encoding/json decodes into a struct as nothing) and reports false.
func (w *wire) openOrNull() bool {
	if w.peek() == 'n' {
		w.skip()
		return false
	}
	return w.open()
}

// openArray reads the '[' of an array, or a null (false).
func (w *wire) openArray() bool {
	switch w.peek() {
	case 'n':
		w.skip()
		return false
	case '[':
		if _, err := w.dec.ReadToken(); err != nil {
			return w.fail()
		}
		return true
	}
	return w.fail()
}

// more reports whether the array being read has another element, reading
// its ']' when not.
func (w *wire) more() bool {
	switch w.peek() {
	case 0:
		return w.fail()
	case ']':
		if _, err := w.dec.ReadToken(); err != nil {
			return w.fail()
		}
		return false
	}
	return true
}

// next reads the next key of the object being read into w.key, or its '}'
// (false). It is false too once w has failed.
func (w *wire) next() bool {
	switch w.peek() {
	case '}':
		if _, err := w.dec.ReadToken(); err != nil {
			return w.fail()
		}
		return false
	case '"':
	default:
		return w.fail()
	}
	v, err := w.dec.ReadValue()
	if err != nil {
		return w.fail()
	}
	if w.key, err = unquote(w.key[:0], v); err != nil {
		return w.fail()
	}
	return true
}

// field is the key read by next as one of names (a struct's JSON names):
// the name when the key is exactly one, "" for a key encoding/json ignores.
// A key it would match case-insensitively, or one with non-ASCII letters
// (Unicode folding), fails w.
func (w *wire) field(names []string) string {
	for _, n := range names {
		if string(w.key) == n {
			return n
		}
	}
	for _, c := range w.key {
		if c >= utf8.RuneSelf {
			w.fail()
			return ""
		}
	}
	for _, n := range names {
		if len(n) == len(w.key) && strings.EqualFold(string(w.key), n) {
			w.fail()
			return ""
		}
	}
	return ""
}

// unquote appends the contents of the JSON string v to dst.
func unquote(dst []byte, v jsontext.Value) ([]byte, error) {
	if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 {
		return append(dst, s...), nil
	}
	return jsontext.AppendUnquote(dst, v)
}

// value reads the next value whole (valid until the next read).
func (w *wire) value() jsontext.Value {
	if w.bad {
		return nil
	}
	v, err := w.dec.ReadValue()
	if err != nil {
		w.fail()
		return nil
	}
	return v
}

// skip reads past the next value, which encoding/json ignores.
func (w *wire) skip() { w.value() }

// str reads a string into dst; null leaves dst as it is (as encoding/json
// does); anything else fails w.
func (w *wire) str(dst *string) {
	switch w.peek() {
	case '"':
		v := w.value()
		if v == nil {
			return
		}
		if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 {
			*dst = string(s)
			return
		}
		u, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			w.fail()
			return
		}
		*dst = string(u)
	case 'n':
		w.skip()
	default:
		w.fail()
	}
}

// strOrEmpty reads a string into dst, and sets it to "" for any other value:
// what json.Unmarshal of a json.RawMessage field into a string ends with.
func (w *wire) strOrEmpty(dst *string) {
	if w.peek() == '"' {
		w.str(dst)
		return
	}
	*dst = ""
	w.skip()
}

// boolean reads true or false into dst; null leaves it.
func (w *wire) boolean(dst *bool) {
	switch w.peek() {
	case 't', 'f':
		v := w.value()
		if v != nil {
			*dst = v[0] == 't'
		}
	case 'n':
		w.skip()
	default:
		w.fail()
	}
}

// integer reads an integer into dst as encoding/json does for an int (a
// fraction or exponent is refused); null leaves it.
func (w *wire) integer(dst *int) {
	switch w.peek() {
	case '0':
		v := w.value()
		if v == nil {
			return
		}
		n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
		if err != nil {
			w.fail()
			return
		}
		*dst = int(n)
	case 'n':
		w.skip()
	default:
		w.fail()
	}
}

// raw reads the next value as a json.RawMessage field gets it: its bytes,
// copied.
func (w *wire) raw() []byte {
	v := w.value()
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// rawIn is raw without the copy: the value as a slice of w.in (the
// decoder returns a value's bytes verbatim), capped so an append cannot
// write over what follows it.
func (w *wire) rawIn() []byte {
	v := w.value()
	if v == nil {
		return nil
	}
	end := int(w.dec.InputOffset())
	return w.in[end-len(v) : end : end]
}

// start is where the value after the key just read begins in w.in.
func (w *wire) start() int {
	i := int(w.dec.InputOffset())
	for i < len(w.in) && (w.in[i] == ':' || isSpace(w.in[i])) {
		i++
	}
	return i
}

// end reports whether the input holds nothing after the value read: a
// second value after it is an error to encoding/json.
func (w *wire) end() bool {
	if w.bad {
		return false
	}
	for _, c := range w.in[w.dec.InputOffset():] {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonNames lists the JSON names encoding/json matches in a struct type,
// through embedded structs; a name it would not use after all (a "-" tag,
// an unexported field, a conflict) only makes the decoders give up more.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			names = append(names, jsonNames(ft)...)
			continue
		}
		if name == "" || name == "-" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
