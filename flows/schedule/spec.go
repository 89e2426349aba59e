// Package schedule runs per-tenant jobs on cron schedules, each slot exactly
// once across replicas and restarts. The schedule math here is pure: every
// function takes the times it needs, so tests cover days and DST changes in
// milliseconds.
//
// A slot is a local wall-clock time that matches the cron expression, mapped
// to one instant: on a fall-back day a repeated wall time fires at its first
// occurrence only; on a spring-forward day a wall time that does not exist
// fires at the moment the clocks jump (02:30 in Europe/Berlin on the last
// Sunday of March fires at 03:00 CEST).
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed cron expression in a time zone.
type Spec struct {
	Expr string
	Loc  *time.Location
	// wall matches wall-clock times: it runs on times whose UTC fields are
	// the local fields, where no DST exists.
	wall *cron.SpecSchedule
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrExpr and ErrZone say which half of a schedule is wrong.
var (
	ErrExpr = errors.New("bad cron expression")
	ErrZone = errors.New("unknown time zone")
)

// ParseExpr checks a five-field cron expression ("0 9 * * 1-5") or a
// descriptor (@daily, @weekly, ...). Time zones are given separately, and
// @every is refused: slots must be wall-clock times.
func ParseExpr(expr string) (*cron.SpecSchedule, error) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return nil, fmt.Errorf("%w: empty", ErrExpr)
	}
	if strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ=") {
		return nil, fmt.Errorf("%w: %q: give the time zone in its own field, not in the expression", ErrExpr, expr)
	}
	if strings.HasPrefix(e, "@every") {
		return nil, fmt.Errorf("%w: %q: @every is not supported; use a cron expression such as \"*/15 * * * *\"", ErrExpr, expr)
	}
	s, err := parser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v (want five fields: minute hour day-of-month month day-of-week)", ErrExpr, expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%w: %q: not a calendar schedule", ErrExpr, expr)
	}
	spec.Location = time.UTC
	if spec.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%w: %q never fires", ErrExpr, expr)
	}
	return spec, nil
}

// LoadZone loads an IANA time zone ("Europe/Berlin", "UTC"). "Local" and ""
// are refused: a schedule must not depend on the machine it runs on.
func LoadZone(tz string) (*time.Location, error) {
	if tz == "" || tz == "Local" {
		return nil, fmt.Errorf("%w: %q: give an IANA name such as Europe/Berlin or UTC", ErrZone, tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: not an IANA time zone name (such as Europe/Berlin, America/New_York, UTC)", ErrZone, tz)
	}
	return loc, nil
}

// Parse parses expr in the IANA zone tz. Errors wrap ErrExpr or ErrZone.
func Parse(expr, tz string) (Spec, error) {
	w, err := ParseExpr(expr)
	if err != nil {
		return Spec{}, err
	}
	loc, err := LoadZone(tz)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Expr: strings.TrimSpace(expr), Loc: loc, wall: w}, nil
}

// wallOf is t's local wall-clock time, as a UTC time with the same fields.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instant maps a wall-clock time in loc to the instant it fires: the first
// occurrence of a repeated time, the end of the gap for a skipped one.
func instant(w time.Time, loc *time.Location) time.Time {
	var best, after time.Time
	for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
		_, off := w.Add(probe).In(loc).Zone()
		t := w.Add(-time.Duration(off) * time.Second)
		if wallOf(t, loc).Equal(w) {
			if best.IsZero() || t.Before(best) {
				best = t
			}
		} else if wallOf(t, loc).After(w) && (after.IsZero() || t.Before(after)) {
			after = t
		}
	}
	if !best.IsZero() {
		return best.UTC()
	}
	// w is in a gap: t (read with the offset before the jump) lands after
	// it; the jump is where t's zone period starts.
	start, _ := after.In(loc).ZoneBounds()
	if start.IsZero() {
		return after.UTC()
	}
	return start.UTC()
}

// Next is the first slot strictly after t, or zero if none within five years.
func (s Spec) Next(t time.Time) time.Time {
	// Wall times are monotonic in instants except in a fall-back hour, so
	// start an hour and a half early and skip what is not after t.
	w := wallOf(t, s.Loc).Add(-90 * time.Minute)
	for range 1000 {
		w = s.wall.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at := instant(w, s.Loc); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// lookbacks widen the search for the latest slot: a frequent schedule is
// found in the first window, a yearly one in the last.
var lookbacks = []time.Duration{2 * time.Hour, 26 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5*366*24*time.Hour + 48*time.Hour}

// Latest is the most recent slot at or before now, or zero if none in five years.
func (s Spec) Latest(now time.Time) time.Time {
	nowWall := wallOf(now, s.Loc)
	for _, back := range lookbacks {
		var latest time.Time
		// Walk wall times from the window start to a little past now's wall
		// time: in a fall-back hour a later wall time can be an earlier instant.
		w := nowWall.Add(-back - time.Minute)
		end := nowWall.Add(2 * time.Hour)
		for {
			w = s.wall.Next(w)
			if w.IsZero() || w.After(end) {
				break
			}
			if at := instant(w, s.Loc); !at.After(now) && at.After(latest) {
				latest = at
			}
		}
		if !latest.IsZero() {
			return latest
		}
	}
	return time.Time{}
}

// Due is the slot to run at now: the latest slot at or before now, if it is
// after last (the last slot claimed, zero for none) and not before since
// (when the schedule took its current form, so a new or changed schedule
// does not fire a slot from before it existed). After an outage this is
// only the latest missed slot, never all of them.
func (s Spec) Due(last, since, now time.Time) (time.Time, bool) {
	slot := s.Latest(now)
	if slot.IsZero() || !slot.After(last) || slot.Before(since) {
		return time.Time{}, false
	}
	return slot, true
}
