package inventory

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/findings"
)

// MaxUploadBytes bounds one POST /api/v1/inventory body.
const MaxUploadBytes = 32 << 20

// Handler serves POST /api/v1/inventory/{application}/{kind}: the bulk
// upload API. The body is the CLI's CSV (Content-Type: text/csv) or a JSON
// array of objects keyed by the same columns (application/json); it goes
// through Importer.Import, the code accessbot import runs, so snapshot
// semantics, the removal guard and the finding rules are the same. The
// tenant comes from the findings API's bearer token. Query: dry_run,
// strict, allow_removals (true/false); app for mappings.
type Handler struct {
	im  *Importer
	st  findings.TokenStore
	log zerolog.Logger
}

func NewHandler(im *Importer, st findings.TokenStore, log zerolog.Logger) *Handler {
	return &Handler{im: im, st: st, log: log.With().Str("component", "inventory_api").Logger()}
}

// RowProblem is a rejected row: Line for CSV, Index (0-based) for JSON.
type RowProblem struct {
	Line  int    `json:"line,omitempty"`
	Index *int   `json:"index,omitempty"`
	Field string `json:"field,omitempty"`
	Value string `json:"value,omitempty"`
	Msg   string `json:"message"`
}

// Response is the answer to an upload.
type Response struct {
	Summary  string         `json:"summary"`
	Written  bool           `json:"written"`
	DryRun   bool           `json:"dry_run"`
	Counts   map[string]int `json:"counts"`
	Rejected []RowProblem   `json:"rejected"`
	Error    string         `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accessbot"`)
		writeJSON(w, http.StatusUnauthorized, Response{Error: "missing bearer token (the findings API's token: accessbot findings token)"})
		return
	}
	tenantID, err := findings.Authenticate(r.Context(), h.st, strings.TrimSpace(tok))
	if errors.Is(err, findings.ErrBadToken) {
		writeJSON(w, http.StatusUnauthorized, Response{Error: "invalid token"})
		return
	}
	if err != nil {
		h.log.Error().Err(err).Msg("check token")
		writeJSON(w, http.StatusInternalServerError, Response{Error: "internal error"})
		return
	}
	kind := Kind(r.PathValue("kind"))
	if !slices.Contains([]Kind{Identities, Entitlements, Relations, Mappings}, kind) {
		writeJSON(w, http.StatusNotFound, Response{Error: fmt.Sprintf("%q: want identities, entitlements, relations or mappings", kind)})
		return
	}
	app := r.PathValue("application")
	var opt Options
	for name, dst := range map[string]*bool{"dry_run": &opt.DryRun, "strict": &opt.Strict, "allow_removals": &opt.AllowRemovals} {
		if *dst, err = boolParam(r, name); err != nil {
			writeJSON(w, http.StatusBadRequest, Response{Error: err.Error()})
			return
		}
	}
	if kind == Mappings {
		opt.App = r.URL.Query().Get("app")
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxUploadBytes)); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeJSON(w, http.StatusRequestEntityTooLarge, Response{Error: fmt.Sprintf("body over %d MiB: split the upload (relations can be large: send CSV)", MaxUploadBytes>>20)})
			return
		}
		writeJSON(w, http.StatusBadRequest, Response{Error: "read body: " + err.Error()})
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json"
	body := &buf
	switch {
	case isJSON:
		if body, err = jsonToCSV(buf.Bytes()); err != nil {
			writeJSON(w, http.StatusBadRequest, Response{Error: err.Error()})
			return
		}
	case mt == "text/csv":
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, Response{Error: "want Content-Type: text/csv or application/json"})
		return
	}
	res, err := h.im.Import(r.Context(), tenantID, kind, app, "body", body, opt)
	out := Response{DryRun: opt.DryRun}
	if res != nil {
		out.Summary, out.Written = strings.Join(res.Summaries(), "; "), res.Written
		out.Counts = map[string]int{"created": res.Created, "updated": res.Updated, "restored": res.Restored, "removed": res.Removed, "unchanged": res.Unchanged, "kept": res.Kept}
		out.Rejected = []RowProblem{}
		for _, e := range res.Rejected {
			out.Rejected = append(out.Rejected, problem(e, isJSON))
		}
	}
	if err != nil {
		status := http.StatusUnprocessableEntity
		var fe *csvrows.FileError
		switch {
		case errors.As(err, &fe) && isJSON:
			err = fmt.Errorf("body: %s", fe.Msg)
			status = http.StatusBadRequest
		case errors.As(err, &fe), errors.Is(err, accessbot.ErrInvalid):
			status = http.StatusBadRequest
		case errors.Is(err, accessbot.ErrNotFound):
			status = http.StatusNotFound
		case res == nil:
			h.log.Error().Err(err).Str("tenant", tenantID).Msg("inventory upload")
			writeJSON(w, http.StatusInternalServerError, Response{Error: "internal error"})
			return
		}
		out.Error = err.Error()
		writeJSON(w, status, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// problem turns a row error into the API's shape: a JSON item's index is
// its CSV line less the header's and one.
func problem(e *csvrows.RowError, isJSON bool) RowProblem {
	p := RowProblem{Line: e.Line, Field: e.Field, Value: e.Value, Msg: e.Msg}
	if isJSON {
		i := e.Line - 2
		p.Line, p.Index = 0, &i
	}
	return p
}

// jsonToCSV turns a JSON array of flat objects into CSV whose header is
// every key used; the importer then checks the columns as for a file.
func jsonToCSV(b []byte) (*bytes.Buffer, error) {
	// Numbers keep their text: an id of 1234567 is "1234567", never
	// float64's "1.234567e+06", and 20-digit ids keep every digit.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var items []map[string]any
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("body: want a JSON array of objects: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("body: want one JSON array of objects, found more after it")
	}
	var cols []string
	seen := map[string]bool{}
	for _, it := range items {
		for k := range it {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	_ = w.Write(cols)
	for i, it := range items {
		row := make([]string, len(cols))
		for c, k := range cols {
			switch v := it[k].(type) {
			case nil:
			case string:
				row[c] = v
			case json.Number:
				row[c] = v.String()
			case bool:
				row[c] = strconv.FormatBool(v)
			case []any: // labels: ["privileged", "ops"]
				var parts []string
				for _, x := range v {
					switch x := x.(type) {
					case string:
						parts = append(parts, x)
					case json.Number:
						parts = append(parts, x.String())
					default:
						return nil, fmt.Errorf("body: item %d: %s: a list holds strings or numbers", i, k)
					}
				}
				row[c] = strings.Join(parts, ";")
			default:
				return nil, fmt.Errorf("body: item %d: %s: want a string, number, boolean or list", i, k)
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	return &out, w.Error()
}
