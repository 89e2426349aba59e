package dirsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// DirectoryTypes are the connector types whose applications sync.
var DirectoryTypes = []string{"azuread", "scim"}

// StatusRow is one application's connector status, as the Home tab and
// `accessbot connectors status` show it.
type StatusRow struct {
	App       string
	Connector string
	Status    string // Connected, Error, Pending (see Status)
	Message   string // Data available, No data yet, ...
	LastSync  *time.Time
	LastRun   *time.Time
	Counts    string // the last good sync's summary
	LastError string
	Schedule  string // "0 */6 * * * UTC", "" when it syncs only on demand
}

// StatusRows lists every application of the tenant that syncs from a
// directory connector (or has synced), by name.
func StatusRows(ctx context.Context, q store.Queries, tenantID string) ([]StatusRow, error) {
	apps, err := q.ListApplications(ctx, tenantID, "", 0)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	syncs, err := q.ListConnectorSyncs(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connector syncs: %w", err)
	}
	conns, err := q.ListConnectors(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	scheds, err := q.ListSchedules(ctx, tenantID)
	if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	byApp := map[string]*accessbot.ConnectorSync{}
	for i := range syncs {
		byApp[syncs[i].AppID] = &syncs[i]
	}
	typeOf := map[string]string{}
	for _, c := range conns {
		typeOf[c.Name] = c.Type
	}
	sched := map[string]string{}
	for _, s := range scheds {
		if name, ok := strings.CutPrefix(s.Job, JobPrefix); ok {
			sched[name] = s.Cron + " " + s.TimeZone
		}
	}
	var rows []StatusRow
	for _, a := range apps {
		typ, ok := typeOf[a.Connector]
		if !ok {
			typ = a.Connector
		}
		s := byApp[a.ID]
		if s == nil && !isDirectory(typ) && sched[a.Name] == "" {
			continue
		}
		if s == nil {
			s = &accessbot.ConnectorSync{}
		}
		r := StatusRow{App: a.Name, Connector: a.Connector, LastSync: s.LastOKAt, LastRun: s.LastRunAt, Counts: s.Summary,
			LastError: s.LastError, Schedule: sched[a.Name]}
		r.Status, r.Message = Status(s)
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return strings.ToLower(rows[i].App) < strings.ToLower(rows[j].App) })
	return rows, nil
}

func isDirectory(typ string) bool { return slices.Contains(DirectoryTypes, typ) }
