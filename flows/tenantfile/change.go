package tenantfile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Op is what a change does to one object.
type Op string

const (
	OpCreate Op = "+"
	OpUpdate Op = "~"
	OpDelete Op = "-"
)

// Change is one line of the diff: an object created, updated or deleted,
// with the fields that differ ("primary_owner bob@acme.com→carol@acme.com").
type Change struct {
	Op     Op
	Kind   string // tenant, slack_workspace, user, application, connection, resource, approval_chain
	Name   string
	Fields []string

	at    loc
	steps []step
	// audit is read after the steps ran, when new objects have their ids.
	objectID      func() string
	before, after any
}

func (c *Change) String() string {
	s := string(c.Op) + " " + c.Kind + " " + c.Name
	if len(c.Fields) > 0 {
		s += ": " + strings.Join(c.Fields, ", ")
	}
	return s
}

// Phases order the writes so that every reference exists when it is written
// and nothing is deleted while something still points at it.
const (
	phaseTenant = iota
	phaseWorkspace
	phaseUserCreate // without manager and delegate, which may not exist yet
	phaseUserUpdate // in manager-first order, so no intermediate state has a cycle
	phaseAppWrite
	phaseResourceReplace // a resource whose type changed is deleted, then created
	phaseConnWrite
	phaseChainWrite
	phaseChainDelete
	phaseConnDelete
	phaseAppDelete
	phaseSchedules
	phaseRules
)

type step struct {
	phase, order int
	run          func(ctx context.Context, q store.Queries) error
}

func (c *Change) add(phase, order int, run func(ctx context.Context, q store.Queries) error) {
	c.steps = append(c.steps, step{phase: phase, order: order, run: run})
}

func (c *Change) auditEntry(tenantID string) *accessbot.AuditEntry {
	action := map[Op]string{OpCreate: "created", OpUpdate: "updated", OpDelete: "deleted"}[c.Op]
	e := &accessbot.AuditEntry{
		TenantID:   tenantID,
		ActorID:    "apply",
		Action:     c.Kind + "." + action,
		ObjectType: c.Kind,
		ObjectID:   c.objectID(),
	}
	if c.before != nil {
		e.Before, _ = json.Marshal(c.before)
	}
	if c.after != nil {
		e.After, _ = json.Marshal(c.after)
	}
	return e
}

// diff collects "field old→new" for the fields that differ.
type diff []string

func (d *diff) str(field, old, new string) {
	if old != new {
		*d = append(*d, fmt.Sprintf("%s %s→%s", field, quote(old), quote(new)))
	}
}

// ref is str for emails, names and enums, which read fine unquoted.
func (d *diff) ref(field, old, new string) {
	if old != new {
		*d = append(*d, fmt.Sprintf("%s %s→%s", field, none(old), none(new)))
	}
}

func (d *diff) changed(field string, same bool, detail string) {
	if !same {
		*d = append(*d, field+" "+detail)
	}
}

func quote(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

func none(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
