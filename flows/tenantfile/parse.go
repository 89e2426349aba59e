package tenantfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/userimport"
)

// DefaultMaxBytes bounds a tenant file: thousands of users and
// applications fit in well under it.
const DefaultMaxBytes = 4 << 20

// ReadFile reads and parses the tenant file at path, refusing one larger
// than DefaultMaxBytes. Messages name the file as path spells it.
func ReadFile(path string) (*File, error) {
	return ReadFileLimit(path, DefaultMaxBytes, "")
}

// ReadFileLimit is ReadFile with the size limit maxBytes; setting says
// where it is changed (default: the config key). It reads at most one byte
// past the limit.
func ReadFileLimit(path string, maxBytes int64, setting string) (*File, error) {
	if setting == "" {
		setting = "limits.tenant_file_bytes in the config, or ACCESSBOT_LIMITS_TENANT_FILE_BYTES"
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tenant file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read tenant file: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("read tenant file %s: %w: larger than the limit of %s (to change it: %s)",
			path, accessbot.ErrInvalid, csvrows.FormatBytes(maxBytes), setting)
	}
	return Parse(path, data)
}

// Parse decodes and validates a tenant file. Its error is Errors (every
// problem, each with file, line and field) and wraps accessbot.ErrInvalid.
func Parse(name string, data []byte) (*File, error) {
	d := &decoder{file: name}
	f := &File{Name: name}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "", "the file is empty")
		} else {
			d.syntaxError(err)
		}
		return nil, d.errs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			d.syntaxError(err)
		} else {
			d.errorf(extra.Line, "", "only one YAML document is allowed (found another after ---)")
		}
		return nil, d.errs
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.errorf(0, "", "the file is empty")
		return nil, d.errs
	}
	d.decodeFile(doc.Content[0], f)
	if len(d.errs) == 0 {
		d.check(f)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return f, nil
}

var (
	slugRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	teamIDRE    = regexp.MustCompile(`^[TE][A-Z0-9]{2,}$`)
	connectorRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

var connectionTypes = []string{"group", "role", "policy", "account"}

var schemaTypes = []string{"text", "select", "multiline"}

func (d *decoder) decodeFile(root *yaml.Node, f *File) {
	top := d.mapping(root, loc{line: root.Line}, "version", "tenant", "slack", "users", "applications", "approval_chains", "prune", "schedules", "alerts", "rules", "campaigns", "reviews", "imports", "outbound", "connectors", "grants", "playbooks", "purposes", "channels", "on_behalf", "risk", "step_up")
	if top.has("version") {
		if v := d.str(top, "version"); v != "1" {
			l := top.loc("version")
			d.errorf(l.line, l.path, "unsupported version %q (this accessbot reads version 1)", v)
		}
	}

	if !top.has("tenant") {
		d.errorf(root.Line, "tenant", "required")
	} else {
		l := top.loc("tenant")
		t := d.mapping(top.vals["tenant"], l, "slug", "name")
		f.Tenant = Tenant{Slug: d.required(t, "slug"), Name: d.required(t, "name"), at: l}
		if f.Tenant.Slug != "" && !slugRE.MatchString(f.Tenant.Slug) {
			sl := t.loc("slug")
			d.errorf(sl.line, sl.path, "%q is not a slug: use lower-case letters, digits and dashes", f.Tenant.Slug)
		}
	}

	if top.has("slack") {
		l := top.loc("slack")
		s := d.mapping(top.vals["slack"], l, "team_id", "team_name")
		f.Slack = &Workspace{TeamID: d.required(s, "team_id"), TeamName: d.str(s, "team_name"), at: s.loc("team_id")}
		if f.Slack.TeamID != "" && !teamIDRE.MatchString(f.Slack.TeamID) {
			d.errorf(f.Slack.at.line, f.Slack.at.path, "%q is not a Slack team id (like T0123ABCD)", f.Slack.TeamID)
		}
	}

	ul := top.loc("users")
	f.usersAt = ul
	for i, n := range d.seq(top.vals["users"], ul) {
		f.Users = append(f.Users, d.decodeUser(n, loc{line: resolve(n).Line, path: index("users", i)}))
	}
	al := top.loc("applications")
	for i, n := range d.seq(top.vals["applications"], al) {
		f.Applications = append(f.Applications, d.decodeApp(n, loc{line: resolve(n).Line, path: index("applications", i)}))
	}
	cl := top.loc("approval_chains")
	for i, n := range d.seq(top.vals["approval_chains"], cl) {
		f.Chains = append(f.Chains, d.decodeChain(n, loc{line: resolve(n).Line, path: index("approval_chains", i)}))
	}
	d.decodeSchedules(top, f) // schedules.go
	d.decodeRules(top, f)     // rules.go
	d.decodeCampaigns(top, f) // campaigns.go
	d.decodeReviews(top, f)   // reviews.go
	d.decodeGrants(top, f)    // grants.go
	d.decodeImports(top, f)   // imports.go
	d.decodeOutbound(top, f)  // connectors.go
	d.decodeConnectors(top, f)
	d.checkSyncConnectors(f)  // appsync.go
	d.decodePlaybooks(top, f) // playbooks.go
	d.decodePurposes(top, f)  // purposes.go
	d.decodeRoutes(top, f)    // routes.go
	d.decodeOnBehalf(top, f)  // onbehalf.go
	d.decodeRisk(top, f)      // risk.go
	if top.has("prune") {
		p := d.mapping(top.vals["prune"], top.loc("prune"), "applications", "connections", "resources", "approval_chains")
		f.Prune = Prune{
			Applications:   d.boolean(p, "applications"),
			Connections:    d.boolean(p, "connections"),
			Resources:      d.boolean(p, "resources"),
			ApprovalChains: d.boolean(p, "approval_chains"),
		}
	}
}

func (d *decoder) email(f fields, key string, required bool) (string, loc) {
	var s string
	if required {
		s = d.required(f, key)
	} else {
		s = d.str(f, key)
	}
	l := f.loc(key)
	if s == "" {
		return "", l
	}
	if err := userimport.CheckEmail(s); err != nil {
		d.errorf(l.line, l.path, "%q: %v", s, err)
		return "", l
	}
	return accessbot.NormalizeEmail(s), l
}

func (d *decoder) date(f fields, key string) *time.Time {
	s := d.str(f, key)
	if s == "" {
		return nil
	}
	t, err := userimport.ParseDate(s)
	if err != nil {
		l := f.loc(key)
		d.errorf(l.line, l.path, "%q: %v", s, err)
		return nil
	}
	return &t
}

func (d *decoder) oneOf(f fields, key, def string, allowed ...string) string {
	s := d.str(f, key)
	if s == "" {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a
		}
	}
	l := f.loc(key)
	d.errorf(l.line, l.path, "%q is not one of: %s", s, strings.Join(allowed, ", "))
	return def
}

func (d *decoder) decodeUser(n *yaml.Node, at loc) User {
	m := d.mapping(n, at, "email", "name", "manager", "department", "status", "terminated_at", "role", "delegate", "delegate_until")
	u := User{at: at}
	u.Email, _ = d.email(m, "email", true)
	u.Name = d.required(m, "name")
	u.Manager, u.managerAt = d.email(m, "manager", false)
	u.Department = d.str(m, "department")
	u.Status = accessbot.UserStatus(d.oneOf(m, "status", string(accessbot.UserActive), string(accessbot.UserActive), string(accessbot.UserTerminated)))
	u.TerminatedAt = d.date(m, "terminated_at")
	u.Role = accessbot.Role(d.oneOf(m, "role", string(accessbot.RoleMember), string(accessbot.RoleAdmin), string(accessbot.RoleMember)))
	u.Delegate, u.delegateAt = d.email(m, "delegate", false)
	u.DelegateUntil = d.date(m, "delegate_until")

	if u.Status == accessbot.UserTerminated && u.TerminatedAt == nil && !m.has("terminated_at") {
		l := m.loc("terminated_at")
		d.errorf(l.line, l.path, "required when status is terminated")
	}
	if u.Status == accessbot.UserActive && u.TerminatedAt != nil {
		l := m.loc("terminated_at")
		d.errorf(l.line, l.path, "set, but status is active (set status: terminated, or remove terminated_at)")
	}
	if u.Delegate != "" && u.DelegateUntil == nil && !m.has("delegate_until") {
		l := m.loc("delegate_until")
		d.errorf(l.line, l.path, "required with delegate: delegation is always time-bound")
	}
	if u.Delegate == "" && u.DelegateUntil != nil {
		l := m.loc("delegate_until")
		d.errorf(l.line, l.path, "set without delegate")
	}
	return u
}

func (d *decoder) decodeApp(n *yaml.Node, at loc) Application {
	m := d.mapping(n, at, "name", "description", "connector", "primary_owner", "secondary_owner", "max_duration", "labels", "connection_schema", "connections", "resources", "provisioning", "sync", "risk")
	a := Application{at: at}
	a.Name = d.required(m, "name")
	a.Risk, a.riskAt = d.risk(m), m.loc("risk") // risk.go
	a.Description = d.str(m, "description")
	a.Connector = d.str(m, "connector")
	if a.Connector == "" {
		a.Connector = "manual"
	} else if !connectorRE.MatchString(a.Connector) {
		l := m.loc("connector")
		d.errorf(l.line, l.path, "%q is not a connector type (lower-case name such as azuread, gitlab, manual)", a.Connector)
	}
	a.Labels = d.labels(m, "labels")
	d.decodeAppSync(m, &a)                                   // appsync.go
	a.Provisioning = d.decodeProvisioning(m, "provisioning") // provisioning.go
	a.PrimaryOwner, a.primaryAt = d.email(m, "primary_owner", true)
	a.SecondaryOwner, a.secondaryAt = d.email(m, "secondary_owner", false)
	if s := d.str(m, "max_duration"); s != "" {
		dur, err := ParseDuration(s)
		if err != nil {
			l := m.loc("max_duration")
			d.errorf(l.line, l.path, "%q: %v", s, err)
		}
		a.MaxDuration = dur
	}

	sl := m.loc("connection_schema")
	seen := map[string]int{}
	for i, fn := range d.seq(m.vals["connection_schema"], sl) {
		fl := loc{line: resolve(fn).Line, path: index(sl.path, i)}
		fm := d.mapping(fn, fl, "name", "label", "type", "required", "options")
		sf := accessbot.SchemaField{
			Name:     d.required(fm, "name"),
			Label:    d.str(fm, "label"),
			Type:     d.oneOf(fm, "type", "text", schemaTypes...),
			Required: d.boolean(fm, "required"),
		}
		ol := fm.loc("options")
		for j, on := range d.seq(fm.vals["options"], ol) {
			on = resolve(on)
			if on.Kind != yaml.ScalarNode || strings.TrimSpace(on.Value) == "" {
				d.errorf(on.Line, index(ol.path, j), "want a non-empty single value")
				continue
			}
			sf.Options = append(sf.Options, strings.TrimSpace(on.Value))
		}
		if sf.Label == "" {
			sf.Label = sf.Name
		}
		nl := fm.loc("name")
		if sf.Name != "" && !fieldNameRE.MatchString(sf.Name) {
			d.errorf(nl.line, nl.path, "%q is not a field name (letters, digits and _)", sf.Name)
		}
		if first, dup := seen[sf.Name]; dup && sf.Name != "" {
			d.errorf(nl.line, nl.path, "duplicate field %q (first at line %d)", sf.Name, first)
		}
		seen[sf.Name] = nl.line
		if sf.Type == "select" && len(sf.Options) == 0 {
			d.errorf(ol.line, ol.path, "a select field needs options")
		}
		if sf.Type != "select" && len(sf.Options) > 0 {
			d.errorf(ol.line, ol.path, "options are only for type: select")
		}
		a.ConnectionSchema = append(a.ConnectionSchema, sf)
	}

	cl := m.loc("connections")
	seenConn := map[string]int{}
	for i, cn := range d.seq(m.vals["connections"], cl) {
		l := loc{line: resolve(cn).Line, path: index(cl.path, i)}
		cm := d.mapping(cn, l, "name", "type", "description", "labels", "attributes", "risk")
		c := Connection{at: l}
		c.Risk, c.riskAt = d.risk(cm), cm.loc("risk")
		c.Name = d.required(cm, "name")
		c.Type = d.oneOf(cm, "type", "group", connectionTypes...)
		c.Description = d.str(cm, "description")
		c.Attributes = d.strMap(cm.vals["attributes"], cm.loc("attributes"))
		c.Labels = d.labels(cm, "labels")
		if first, dup := seenConn[strings.ToLower(c.Name)]; dup && c.Name != "" {
			nl := cm.loc("name")
			d.errorf(nl.line, nl.path, "duplicate connection %q (first at line %d)", c.Name, first)
		}
		seenConn[strings.ToLower(c.Name)] = l.line
		a.Connections = append(a.Connections, c)
	}

	rl := m.loc("resources")
	seenRes := map[string]int{}
	for i, rn := range d.seq(m.vals["resources"], rl) {
		l := loc{line: resolve(rn).Line, path: index(rl.path, i)}
		rm := d.mapping(rn, l, "name", "type")
		r := Resource{Name: d.required(rm, "name"), Type: d.required(rm, "type"), at: l}
		if first, dup := seenRes[strings.ToLower(r.Name)]; dup && r.Name != "" {
			nl := rm.loc("name")
			d.errorf(nl.line, nl.path, "duplicate resource %q (first at line %d)", r.Name, first)
		}
		seenRes[strings.ToLower(r.Name)] = l.line
		a.Resources = append(a.Resources, r)
	}
	return a
}

// labels reads a list of labels, such as [privileged], as the entitlement
// CSV's labels column: stored trimmed, in lower case.
func (d *decoder) labels(m fields, key string) []string {
	l := m.loc(key)
	var out []string
	for j, n := range d.seq(m.vals[key], l) {
		n = resolve(n)
		switch {
		case n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "":
			d.errorf(n.Line, index(l.path, j), "want a label such as privileged, found %s", kindName(n))
		case strings.ContainsAny(n.Value, ";,"):
			d.errorf(n.Line, index(l.path, j), "%q is several labels: write each as its own list item, e.g. [privileged, ops]", n.Value)
		default:
			out = append(out, n.Value)
		}
	}
	return accessbot.NormalizeLabels(out)
}

func (d *decoder) decodeChain(n *yaml.Node, at loc) Chain {
	m := d.mapping(n, at, "name", "application", "connection", "levels", "channels_only")
	c := Chain{at: at, channelsOnlyAt: m.loc("channels_only")}
	c.Name = d.required(m, "name")
	if m.has("channels_only") {
		c.ChannelsOnly = d.boolean(m, "channels_only")
	}
	c.Application, c.appAt = d.str(m, "application"), m.loc("application")
	c.Connection, c.connAt = d.str(m, "connection"), m.loc("connection")
	ll := m.loc("levels")
	levels := d.nonEmptySeq(m, "levels", "at least one level is required")
	for i, ln := range levels {
		l := loc{line: resolve(ln).Line, path: index(ll.path, i)}
		lm := d.mapping(ln, l, "rule", "quorum", "approvers", "channel", "direct_messages")
		lv := Level{at: l, DMs: true}
		d.decodeLevelPolicy(lm, &lv) // policies.go
		al := lm.loc("approvers")
		approvers := d.nonEmptySeq(lm, "approvers", "at least one approver is required")
		seen := map[string]int{}
		for j, an := range approvers {
			an = resolve(an)
			p := index(al.path, j)
			if an.Kind != yaml.ScalarNode {
				d.errorf(an.Line, p, "want one of owners, primary_owner, secondary_owner, manager or user:EMAIL, found %s", kindName(an))
				continue
			}
			ap, err := parseApprover(strings.TrimSpace(an.Value))
			if err != nil {
				d.errorf(an.Line, p, "%v", err)
				continue
			}
			ap.at = loc{line: an.Line, path: p}
			key := string(ap.Kind) + ":" + ap.Email
			if first, dup := seen[key]; dup {
				d.errorf(an.Line, p, "duplicate approver %q (first at line %d)", an.Value, first)
				continue
			}
			seen[key] = an.Line
			lv.Approvers = append(lv.Approvers, ap)
		}
		c.Levels = append(c.Levels, lv)
	}
	return c
}

func parseApprover(s string) (Approver, error) {
	switch accessbot.ApproverKind(s) {
	case accessbot.ApproverOwners, accessbot.ApproverPrimary, accessbot.ApproverSecondary, accessbot.ApproverManager:
		return Approver{Kind: accessbot.ApproverKind(s)}, nil
	}
	if email, ok := strings.CutPrefix(s, "user:"); ok {
		email = strings.TrimSpace(email)
		if err := userimport.CheckEmail(email); err != nil {
			return Approver{}, fmt.Errorf("%q: %v", s, err)
		}
		return Approver{Kind: accessbot.ApproverUser, Email: accessbot.NormalizeEmail(email)}, nil
	}
	return Approver{}, fmt.Errorf("%q is not an approver: want owners, primary_owner, secondary_owner, manager or user:EMAIL", s)
}

// ParseDuration reads a Go duration ("8h", "90m") or a whole number of days
// or weeks ("7d", "2w"). It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, errors.New("not a duration: use e.g. 8h, 7d or 2w")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else if n, ok := strings.CutSuffix(s, "w"); ok {
		weeks, err := strconv.Atoi(n)
		if err != nil {
			return 0, errors.New("not a duration: use e.g. 8h, 7d or 2w")
		}
		d = time.Duration(weeks) * 7 * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("not a duration: use e.g. 8h, 7d or 2w")
		}
	}
	if d < time.Minute {
		return 0, errors.New("must be at least 1m (leave max_duration out to allow permanent access)")
	}
	return d, nil
}

// FormatDuration prints d the way ParseDuration reads it, in days when whole.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "permanent"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
