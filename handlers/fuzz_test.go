package handlers_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// logWatch remembers log lines of recovered panics and failed handlers.
type logWatch struct {
	mu    sync.Mutex
	lines []string
}

func (w *logWatch) Write(b []byte) (int, error) {
	s := string(b)
	if strings.Contains(s, "panicked") || strings.Contains(s, "handler failed") {
		w.mu.Lock()
		w.lines = append(w.lines, s)
		w.mu.Unlock()
	}
	return len(b), nil
}

func (w *logWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.lines
	w.lines = nil
	return out
}

var fuzzCallbacks = []string{views.CallbackRequestForm, views.CallbackRequestPreview, views.CallbackConnectionForm,
	views.CallbackConnectionPreview, views.CallbackDenyReason, views.CallbackRequestDetails, "no_such_form"}

// FuzzViewSubmission sends view_submission payloads over the fake Slack's
// socket to the real handlers (requests, connections, approvals) on SQLite:
// any form, any private_metadata (request and connection drafts, including
// the grants/revokes JSON) and any state values, as a hostile client could.
// In the inputs, $GITLAB, $ENTRA, $MAINT, $ADMINS, $LAKE, $REQ and $MONA
// stand for the fixture's ids. Every submission is acked with a clean
// answer: never "something went wrong", never a panic, never a handler
// error. The corpus is in testdata/fuzz/FuzzViewSubmission.
func FuzzViewSubmission(f *testing.F) {
	for _, s := range []struct {
		cb          uint8
		meta, state string
	}{
		{0, `{"a":"$GITLAB"}`, `{"req_app":{"req_app_select":{"type":"external_select","selected_option":{"value":"$GITLAB"}}},` +
			`"req_entitlement":{"req_entitlement_select":{"type":"static_select","selected_option":{"value":"$MAINT"}}},` +
			`"req_duration":{"req_duration_select":{"type":"static_select","selected_option":{"value":"28800"}}},` +
			`"req_justification":{"req_justification_input":{"type":"plain_text_input","value":"Release 4.2 needs merge rights."}}}`},
		{0, ``, `{"req_duration":{"req_duration_select":{"type":"static_select","selected_option":{"value":"-1"}}},` +
			`"req_custom_hours":{"req_custom_hours_input":{"type":"number_input","value":"1e400"}}}`},
		{1, `{"a":"$GITLAB","c":"$MAINT","d":3600,"j":"Need it for the release."}`, `{}`},
		{1, `{"a":"$GITLAB","c":"$ADMINS","t":"$MONA","d":-5,"j":""}`, `{}`},
		{2, `{"k":"assign","a":"$ENTRA"}`, `{"conn_kind":{"conn_kind_radio":{"type":"radio_buttons","selected_option":{"value":"assign"}}},` +
			`"conn_connection":{"conn_connection_select":{"type":"static_select","selected_option":{"value":"$ADMINS"}}},` +
			`"conn_grants":{"conn_grants_select":{"type":"multi_static_select","selected_options":[{"value":"r:$LAKE"},{"value":"c:$MAINT"}]}},` +
			`"conn_revokes":{"conn_revokes_select":{"type":"multi_static_select","selected_options":[{"value":"x:y"}]}},` +
			`"conn_justification":{"conn_justification_input":{"type":"plain_text_input","value":"Lake access for admins."}}}`},
		{2, `{"k":"create","a":"$ENTRA"}`, `{"conn_name":{"conn_name_input":{"type":"plain_text_input","value":"New group"}},` +
			`"conn_type":{"conn_type_select":{"type":"static_select","selected_option":{"value":"group"}}},` +
			`"conn_field.nick":{"conn_field_input":{"type":"plain_text_input","value":"ng"}}}`},
		{3, `{"k":"assign","a":"$ENTRA","c":"$ADMINS","g":[{"type":"resource","source_name":"lake"}],"r":[{"type":"connection","source_name":"Readers"}],"j":"Swap readers for the lake."}`, `{}`},
		{3, `{"k":"create","a":"$ENTRA","n":"x","t":"group","f":{"nick":"","vis":"secret"},"g":null,"j":"ok"}`, `{}`},
		{3, `{"k":"delete","a":"$GITLAB","c":"$MAINT","j":"Gone."}`, `{}`},
		{4, `{"id":"$REQ","l":0}`, `{"deny_reason":{"deny_reason_input":{"type":"plain_text_input","value":"Not now."}}}`},
		{4, `{"id":"$REQ","l":-3}`, `{}`},
		{5, `$REQ`, `{}`},
		{6, `{}`, `[]`},
	} {
		f.Add(s.cb, s.meta, []byte(s.state))
	}
	watch := &logWatch{}
	e := startRequestsWith(f, "sqlite", requests.Policy{}, rqOpts{timeout: 24 * time.Hour, log: watch})
	pending, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users["rita"].ID,
		AppID: e.gitlab.ID, ConnectionID: e.conns["Developers"].ID, Duration: time.Hour, Justification: "Pending for the fuzzer."})
	rqMust(f, err)
	ids := strings.NewReplacer("$GITLAB", e.gitlab.ID, "$ENTRA", e.entra.ID, "$MAINT", e.conns["Maintainers"].ID,
		"$ADMINS", e.conns["Admins"].ID, "$LAKE", e.lake.ID, "$REQ", pending.ID, "$MONA", e.users["mona"].ID)
	users := []string{slackID("rita"), slackID("mona"), slackID("ada")}

	f.Fuzz(func(t *testing.T, cb uint8, meta string, state []byte) {
		values := json.RawMessage(`{}`)
		var obj map[string]any
		if json.Unmarshal([]byte(ids.Replace(string(state))), &obj) == nil && obj != nil {
			values = json.RawMessage(ids.Replace(string(state)))
		}
		user := users[int(cb/8)%len(users)]
		p := e.fake.ViewSubmission(e.team.ID, user, "", nil)
		view, err := json.Marshal(map[string]any{"id": "VFUZZ", "type": "modal", "team_id": e.team.ID,
			"callback_id": fuzzCallbacks[int(cb)%len(fuzzCallbacks)], "private_metadata": ids.Replace(meta),
			"hash": "h", "state": map[string]any{"values": values}})
		if err != nil {
			t.Fatal(err)
		}
		p.View = view
		env := e.fake.SendInteractive(p)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		a, err := e.fake.AwaitAck(ctx, env)
		if err != nil {
			t.Fatalf("no ack: %v", err)
		}
		if strings.Contains(string(a.Payload), "something went wrong") {
			t.Fatalf("answered with an apology: %s\nlog: %s", a.Payload, watch.take())
		}
		// Handlers that go on after the ack (a views.update, a DM) log
		// their failures; give them a moment.
		time.Sleep(20 * time.Millisecond)
		if lines := watch.take(); len(lines) > 0 {
			t.Fatalf("ack %s, but:\n%s", a.Payload, strings.Join(lines, "\n"))
		}
	})
}
