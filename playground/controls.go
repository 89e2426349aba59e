package playground

import (
	"net/http"
	"slices"
	"time"
)

// clockState is GET /api/clock.
type clockState struct {
	Now  time.Time `json:"now"`
	Jobs []Job     `json:"jobs"`
}

func (s *Server) controls() (Controls, error) {
	if s.cfg.Controls == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "this playground has no clock controls"}
	}
	return s.cfg.Controls, nil
}

func (s *Server) handleClock(w http.ResponseWriter, r *http.Request) {
	c, err := s.controls()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clockState{Now: c.Now().UTC(), Jobs: c.Jobs()})
}

// advanceBody is POST /api/clock.
type advanceBody struct {
	Advance string `json:"advance"` // a Go duration: "1h", "24h"
}

func (s *Server) handleAdvance(w http.ResponseWriter, r *http.Request) {
	c, err := s.controls()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b advanceBody
	if err := decode(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := time.ParseDuration(b.Advance)
	if err != nil || d <= 0 || d > MaxAdvance {
		s.fail(w, r, badRequest("advance %q: give a duration from 1s to %s, such as 24h", b.Advance, MaxAdvance))
		return
	}
	if err := c.Advance(r.Context(), d); err != nil {
		// The clock moved; say what the tick reported.
		s.fail(w, r, &apiError{status: http.StatusInternalServerError, msg: "the clock moved, but the scheduler reported: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, clockState{Now: c.Now().UTC(), Jobs: c.Jobs()})
}

// runBody is POST /api/run.
type runBody struct {
	Job string `json:"job"`
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	c, err := s.controls()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var b runBody
	if err := decode(r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(c.Jobs(), func(j Job) bool { return j.Name == b.Job }) {
		s.fail(w, r, badRequest("job %q cannot be run from here", b.Job))
		return
	}
	if err := c.RunNow(r.Context(), b.Job); err != nil {
		s.fail(w, r, &apiError{status: http.StatusInternalServerError, msg: "run " + b.Job + ": " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, clockState{Now: c.Now().UTC(), Jobs: c.Jobs()})
}
