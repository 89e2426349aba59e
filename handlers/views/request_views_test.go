package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

var at = time.Date(2025, 3, 4, 10, 30, 0, 0, time.UTC)

func userCard() views.RequestCard {
	return views.RequestCard{
		ID: "0195a1b2-0000-7000-8000-000000000001", Kind: accessbot.RequestUserAccess, Status: accessbot.StatusPending,
		Requester: "Ada Lovelace", Target: "Bob <Builder>", App: "GitLab", Connection: "Maintainers", ConnectionType: "group",
		Duration: 8 * time.Hour, Justification: "Release 4.2 needs *merge* rights & a tag.", Level: 1, Levels: 3, CreatedAt: at,
		Decisions: []views.DecisionLine{{Level: 0, By: "Carol", Decision: accessbot.DecisionApprove, At: at.Add(time.Hour)}},
		Why:       true, // as the notifier builds standing cards
	}
}

func connCards() map[string]views.RequestCard {
	base := views.RequestCard{ID: "0195a1b2-0000-7000-8000-000000000002", Status: accessbot.StatusPending, Requester: "Ada Lovelace",
		App: "Entra ID", Levels: 1, CreatedAt: at}
	create := base
	create.Kind = accessbot.RequestConnectionCreate
	create.New = &views.NewConnection{Name: "data-readers", Type: "group", Description: "Reads the lake",
		Fields: []views.Field{{Label: "Mail nickname", Value: "datareaders"}}}
	assign := base
	assign.Kind, assign.Connection, assign.ConnectionType = accessbot.RequestConnectionAssign, "Admins", "role"
	assign.Grants, assign.Revokes = []string{"lake (resource)", "Readers (group)"}, []string{"legacy (resource)"}
	del := base
	del.Kind, del.Connection, del.ConnectionType, del.Status = accessbot.RequestConnectionDelete, "Old", "group", accessbot.StatusDenied
	return map[string]views.RequestCard{"create": create, "assign": assign, "delete": del}
}

type msg struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

func checkMsg(t *testing.T, name, text string, blocks []slack.Block) {
	t.Helper()
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
	golden(t, name, msg{text, blocks})
}

func checkModal(t *testing.T, name string, v slack.ModalViewRequest) {
	t.Helper()
	if err := blockkit.ValidateView(v); err != nil {
		t.Fatal(err)
	}
	golden(t, name, v)
}

func TestRequestFormsGolden(t *testing.T) {
	app := &views.Option{Value: "app-1", Text: "GitLab"}
	checkModal(t, "request_form_empty", views.RequestModal(views.RequestForm{}))
	checkModal(t, "request_form_app", views.RequestModal(views.RequestForm{App: app, MaxDuration: 7 * 24 * time.Hour,
		Entitlements: []views.Option{{Value: "c1", Text: "Maintainers (group)"}, {Value: "c2", Text: "Owners (role)"}},
		Reports:      []views.Option{{Value: "u2", Text: "Bob Builder"}}}))
	checkModal(t, "request_form_no_entitlements", views.RequestModal(views.RequestForm{App: app}))
	// An application allowing less than an hour (the playground's 3 minutes) offers its maximum.
	checkModal(t, "request_form_short", views.RequestModal(views.RequestForm{App: app, MaxDuration: 3 * time.Minute,
		Entitlements: []views.Option{{Value: "c1", Text: "@oncall (group)"}}}))
	checkModal(t, "connection_form_empty", views.ConnectionModal(views.ConnectionForm{}))
	checkModal(t, "connection_form_create", views.ConnectionModal(views.ConnectionForm{Kind: views.ConnKindCreate, App: app,
		Types: []string{"group", "role"}, Schema: []views.SchemaInput{
			{Name: "nick", Label: "Mail nickname", Type: "text", Required: true},
			{Name: "vis", Label: "Visibility", Type: "select", Options: []string{"private", "public"}},
			{Name: "notes", Type: "multiline"}}}))
	checkModal(t, "connection_form_assign", views.ConnectionModal(views.ConnectionForm{Kind: views.ConnKindAssign, App: app,
		Connections: []views.Option{{Value: "c1", Text: "Admins (role)"}},
		Assignable:  []views.Option{{Value: "c:c1", Text: "Admins (role)"}, {Value: "r:r1", Text: "lake (resource)"}}}))
	checkModal(t, "connection_form_delete", views.ConnectionModal(views.ConnectionForm{Kind: views.ConnKindDelete, App: app,
		Connections: []views.Option{{Value: "c1", Text: "Admins (role)"}}}))
}

func TestRequestPreviewGolden(t *testing.T) {
	c := userCard()
	c.ID, c.Status, c.Level, c.Decisions = "", accessbot.StatusPending, 0, nil
	checkModal(t, "request_preview", views.RequestPreview(views.CallbackRequestPreview, c,
		views.PreviewInfo{Chain: []string{"Carol (any one)", "Dan, Erin (all must approve)", "Frank"}}, `{"k":"user_access"}`))
	checkModal(t, "request_preview_problem", views.RequestPreview(views.CallbackConnectionPreview, connCards()["assign"],
		views.PreviewInfo{Problem: "lake (resource) is both granted and revoked."}, `{}`))
	checkModal(t, "request_done", views.RequestDone(userCard()))
}

func TestCardsGolden(t *testing.T) {
	for name, c := range connCards() {
		t.Run(name, func(t *testing.T) {
			text, blocks := views.ApprovalMessage(c, views.LevelState{Level: 0})
			checkMsg(t, "approval_"+name, text, blocks)
		})
	}
}

func TestApprovalMessageGolden(t *testing.T) {
	c := userCard()
	text, blocks := views.ApprovalMessage(c, views.LevelState{Level: 1})
	if !strings.Contains(text, "level 2 of 3") {
		t.Fatalf("text %q does not say the level", text)
	}
	checkMsg(t, "approval_open", text, blocks)

	partial := views.LevelState{Level: 1, Decisions: []views.DecisionLine{{Level: 1, By: "Dan", Decision: accessbot.DecisionApprove, At: at.Add(2 * time.Hour)}}}
	text, blocks = views.ApprovalMessage(c, partial)
	checkMsg(t, "approval_partial", text, blocks)

	quorum := partial
	quorum.Needed = 2
	text, blocks = views.ApprovalMessage(c, quorum)
	if !strings.Contains(text, "1 of 2 approvals so far, by Dan") {
		t.Fatalf("quorum text %q does not count the approvals", text)
	}
	checkMsg(t, "approval_quorum", text, blocks)

	esc := c
	esc.Escalated, esc.EscalatedAt = true, at.Add(26*time.Hour)
	text, blocks = views.ApprovalMessage(esc, views.LevelState{Level: 1})
	if !strings.Contains(text, "Escalated to admins at 2025-03-05 12:30 UTC") {
		t.Fatalf("escalated text %q does not say when", text)
	}
	checkMsg(t, "approval_escalated", text, blocks)

	c.Level = 2
	closed := partial
	closed.Closed = true
	text, blocks = views.ApprovalMessage(c, closed)
	if !strings.Contains(text, "Approved by Dan at 2025-03-04 12:30 UTC") {
		t.Fatalf("text %q does not say who decided when", text)
	}
	checkMsg(t, "approval_closed", text, blocks)

	c.Status = accessbot.StatusDenied
	denied := views.LevelState{Level: 2, Closed: true, Decisions: []views.DecisionLine{{Level: 2, By: "Frank", Decision: accessbot.DecisionDeny, Reason: "Not this quarter", At: at.Add(3 * time.Hour)}}}
	text, blocks = views.ApprovalMessage(c, denied)
	checkMsg(t, "approval_denied", text, blocks)

	c.Status = accessbot.StatusExpired
	text, blocks = views.ApprovalMessage(c, views.LevelState{Level: 2, Closed: true})
	checkMsg(t, "approval_expired", text, blocks)
}

func TestRequesterAndModalsGolden(t *testing.T) {
	c := userCard()
	text, blocks := views.RequesterMessage(c)
	checkMsg(t, "requester_pending", text, blocks)
	text, blocks = views.TargetMessage(c)
	checkMsg(t, "target_pending", text, blocks)
	checkModal(t, "deny_modal", views.DenyModal(c, `{"id":"x","l":1}`))
	checkModal(t, "details_modal", views.DetailsModal(c, []string{"Carol", "Dan, Erin (all must approve)", "Frank"}))
}

func TestListsGolden(t *testing.T) {
	var cards []views.RequestCard
	for _, name := range []string{"create", "assign", "delete"} {
		cards = append(cards, connCards()[name])
	}
	cards = append(cards, userCard())
	text, blocks := views.MineList(cards, nil)
	checkMsg(t, "list_mine", text, blocks)
	text, blocks = views.MineList(nil, nil)
	checkMsg(t, "list_mine_empty", text, blocks)
	text, blocks = views.ApprovalsList(cards[:2])
	checkMsg(t, "list_approvals", text, blocks)
	text, blocks = views.AuditMessage(userCard(), []views.AuditLine{
		{At: at, Actor: "Ada Lovelace", Action: "request.created", Detail: "level 1"},
		{At: at.Add(time.Hour), Actor: "Carol", Action: "request.approved", Detail: "level 1 → 2"},
	})
	checkMsg(t, "audit", text, blocks)

	home := views.HomeWithRequests(views.HomeInfo{Tenant: tenant, User: accessbot.User{Email: "ada@acme.test", Name: "Ada"}},
		views.HomeRequests{Mine: cards[3:], Waiting: cards[:1]})
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	golden(t, "home_requests", home)
}

// Many requests still fit one message and one Home.
func TestListsStayWithinLimits(t *testing.T) {
	var cards []views.RequestCard
	for range 200 {
		c := userCard()
		c.Justification = strings.Repeat("é<", 1000)
		cards = append(cards, c)
	}
	mine := func(cs []views.RequestCard) (string, []slack.Block) { return views.MineList(cs, manyGrants(200)) }
	for _, f := range []func([]views.RequestCard) (string, []slack.Block){mine, views.ApprovalsList} {
		text, blocks := f(cards)
		if err := blockkit.ValidateMessageText(text, blocks); err != nil {
			t.Fatal(err)
		}
	}
	home := views.HomeWithRequests(views.HomeInfo{Tenant: tenant}, views.HomeRequests{Mine: cards, Waiting: cards, Grants: manyGrants(200)})
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	text, blocks := views.ApprovalMessage(cards[0], views.LevelState{Level: 1})
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatal(err)
	}
}

func TestLevelFromBlockID(t *testing.T) {
	cases := []struct {
		id    string
		level int
		ok    bool
	}{
		{views.ApprovalActionsBlockID(0, 0), 0, true},
		{views.ApprovalActionsBlockID(2, 7), 2, true},
		{"approval_actions.Lx", 0, false},
		{"approval_actions.L-1", 0, false},
		{"other", 0, false},
	}
	for _, c := range cases {
		l, ok := views.LevelFromBlockID(c.id)
		if l != c.level || ok != c.ok {
			t.Errorf("LevelFromBlockID(%q) = %d, %v; want %d, %v", c.id, l, ok, c.level, c.ok)
		}
	}
}

func TestAuditPickersGolden(t *testing.T) {
	text, blocks := views.AuditPicker()
	checkMsg(t, "audit_picker", text, blocks)
	cc := connCards()
	long := userCard()
	long.App, long.Connection = strings.Repeat("Application ", 6), strings.Repeat("Entitlement ", 6)
	text, blocks = views.AuditRequestPicker("Ada Lovelace", []views.RequestCard{userCard(), cc["create"], cc["assign"], cc["delete"], long})
	checkMsg(t, "audit_request_picker", text, blocks)
	text, blocks = views.AuditRequestPicker("Bob <Builder>", nil)
	checkMsg(t, "audit_request_picker_empty", text, blocks)
}

// RequestLine keeps the status and day when the names are long.
func TestRequestLineKeepsStatusAndDay(t *testing.T) {
	c := userCard()
	c.App, c.Connection = strings.Repeat("A", 80), strings.Repeat("B", 80)
	line := views.RequestLine(c)
	if n := len([]rune(line)); n > 75 || !strings.HasSuffix(line, " · pending · 4 Mar 2025") {
		t.Fatalf("RequestLine = %q (%d runes)", line, n)
	}
}
