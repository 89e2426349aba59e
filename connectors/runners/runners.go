// Package runners carries out the connector steps of an ActionFlow — the
// {provider}_webhook_{endpoint}, email_* and gitlab_issue_* scripts — as
// provision.Runners over the connector packages, with each tenant's
// connectors and secrets loaded through the catalog.
//
// Errors follow one rule: what a retry can fix (a 5xx, a timeout, a
// refused connection) is returned as is, so the step's job retries it;
// everything else (a 4xx, a blocked address, a missing connector or
// parameter) is provision.Permanent and fails the step at once.
package runners

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook"
	"github.com/accessbot/accessbot/flows/provision"
)

// param returns a rendered parameter, or a permanent error naming it.
func param(s provision.Step, key string) (string, error) {
	v := strings.TrimSpace(s.Params[key])
	if v == "" {
		return "", provision.Permanent(fmt.Errorf("step %d (%s): parameter %s is required", s.Index+1, s.Type, key))
	}
	return v, nil
}

// setupErr marks configuration problems permanent.
func setupErr(err error) error {
	if errors.Is(err, catalog.ErrNoConnector) || errors.Is(err, outbound.ErrBlocked) || errors.Is(err, outbound.ErrInsecureScheme) {
		return provision.Permanent(err)
	}
	return err
}

var safeKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// stableID is step.Key when it is usable as a webhook or message id as is,
// else a digest of it: the same on every retry of the step either way.
func stableID(key string) string {
	if safeKey.MatchString(key) {
		return key
	}
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 100 || s != key {
		// Two keys that differ only in replaced characters must not collide.
		return digest(key)
	}
	return s
}

func digest(key string) string {
	return webhook.MessageID(key)
}
