package findings

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
)

// MaxBodyBytes bounds a POST /api/v1/findings body.
const MaxBodyBytes = 1 << 20

// HandlerStore is what the endpoint needs: tokens and transactions.
type HandlerStore interface {
	TokenStore
	Transactor
}

// Handler serves POST /api/v1/findings: a JSON array of findings from a
// tenant's own tools, authenticated by "Authorization: Bearer <token>".
// The tenant comes from the token only.
type Handler struct {
	st    HandlerStore
	now   func() time.Time
	log   zerolog.Logger
	after AfterRecord
}

func NewHandler(st HandlerStore, now func() time.Time, log zerolog.Logger) *Handler {
	return &Handler{st: st, now: now, log: log.With().Str("component", "findings_api").Logger()}
}

// WithAfterRecord sets the hook run in each recording's transaction (the
// playbooks' finding.opened); it returns h.
func (h *Handler) WithAfterRecord(fn AfterRecord) *Handler {
	h.after = fn
	return h
}

type apiError struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accessbot findings"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "missing bearer token (Authorization: Bearer <token>; create one with accessbot findings token)"})
		return
	}
	tenantID, err := Authenticate(r.Context(), h.st, strings.TrimSpace(tok))
	if errors.Is(err, ErrBadToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accessbot findings", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "invalid token"})
		return
	}
	if err != nil {
		h.log.Error().Err(err).Msg("check token")
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error"})
		return
	}
	log := h.log.With().Str("tenant", tenantID).Logger()
	// A missing Content-Type is refused too: a form post or a curl without
	// -H must not be read as findings by accident.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "want Content-Type: application/json"})
		return
	}
	body, err := readAll(r.Body, MaxBodyBytes)
	if errors.Is(err, errTooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: "body over 1 MiB: send fewer findings per request"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "read body: " + err.Error()})
		return
	}
	fs, err := ParseExternal("body", body)
	var ie ItemErrors
	if errors.As(err, &ie) {
		out := apiError{Error: "invalid findings: nothing was recorded"}
		for _, e := range ie {
			out.Errors = append(out.Errors, e.Error())
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	}
	res, err := RecordExternalThen(r.Context(), h.st, tenantID, "body", fs, h.now(), h.after)
	if errors.As(err, &ie) {
		out := apiError{Error: "invalid findings: nothing was recorded"}
		for _, e := range ie {
			out.Errors = append(out.Errors, e.Error())
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	}
	if err != nil {
		status := http.StatusInternalServerError
		msg := "internal error"
		if errors.Is(err, accessbot.ErrInvalid) {
			status, msg = http.StatusBadRequest, err.Error()
		}
		log.Error().Err(err).Msg("record external findings")
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	log.Info().Int("findings", len(fs)).Int("opened", res.Opened).Int("reopened", res.Reopened).Msg("external findings recorded")
	writeJSON(w, http.StatusOK, map[string]int{"received": len(fs), "opened": res.Opened, "reopened": res.Reopened, "seen": res.Seen})
}
