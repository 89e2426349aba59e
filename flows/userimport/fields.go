package userimport

import (
	"errors"
	"net/mail"
	"strings"
	"time"
)

// CheckEmail reports whether s is a bare email address ("alice@acme.com",
// no display name, no angle brackets). The tenant file uses the same rule.
func CheckEmail(s string) error {
	if s == "" {
		return errors.New("email is empty")
	}
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\r\n<>") {
		return errors.New("not a valid email address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return errors.New("not a valid email address")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return errors.New("not a valid email address")
	}
	return nil
}

// ParseDate accepts a calendar date (2006-01-02, read as midnight UTC) or an
// RFC 3339 timestamp. Both files use it for termination dates.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errors.New("not a date: want YYYY-MM-DD or an RFC 3339 time such as 2025-01-31T17:00:00Z")
}

// FormatDate prints a time the way ParseDate reads it, as a bare date when it
// is midnight UTC.
func FormatDate(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
