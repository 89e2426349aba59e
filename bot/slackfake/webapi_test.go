package slackfake_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackfake"
)

// fixture is a fake with two teams; alice has a visible email, bob's is hidden.
type fixture struct {
	fake  *slackfake.Server
	team  slackfake.Team
	other slackfake.Team
	api   *slack.Client
}

func newFixture(t *testing.T, opts ...slackfake.Option) *fixture {
	t.Helper()
	fake := slackfake.New(append([]slackfake.Option{slackfake.WithOAuthClient("cid", "csecret")}, opts...)...)
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme", Domain: "acme"})
	other := fake.AddTeam(slackfake.Team{ID: "T2", Name: "Other"})
	for _, u := range []slackfake.User{
		{ID: "U1", TeamID: "T1", Name: "alice", Email: "Alice@Example.com"},
		{ID: "U2", TeamID: "T1", Name: "bob", Email: "bob@example.com", HideEmail: true},
		{ID: "U9", TeamID: "T2", Name: "mallory", Email: "mallory@other.example"},
	} {
		if _, err := fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{fake: fake, team: team, other: other, api: slack.New(team.BotToken, slack.OptionAPIURL(fake.URL()))}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		token   string
		revoke  bool
		wantErr string
	}{
		{"valid bot token", f.team.BotToken, false, ""},
		{"unknown token", "xoxb-nope", false, "invalid_auth"},
		{"empty token", "", false, "not_authed"},
		{"revoked token", f.other.BotToken, true, "token_revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.revoke {
				f.fake.RevokeToken(tc.token)
			}
			api := slack.New(tc.token, slack.OptionAPIURL(f.fake.URL()))
			res, err := api.AuthTestContext(ctxT(t))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.TeamID != "T1" || res.UserID != f.team.BotUserID || res.BotID != f.team.BotID || res.URL != "https://acme.slack.com/" {
				t.Fatalf("auth.test = %+v", res)
			}
		})
	}
	calls := f.fake.Calls("auth.test")
	if len(calls) != 4 || calls[0].Team != "T1" || calls[0].TokenKind != slackfake.TokenBot || !calls[0].OK() || calls[1].Error != "invalid_auth" {
		t.Fatalf("recorded calls = %+v", calls)
	}
}

func TestPostAndUpdateMessage(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*hi*", false, false), nil, nil))
	ch, ts, err := f.api.PostMessageContext(ctx, "C100", slack.MsgOptionText("hello", false), blocks)
	if err != nil {
		t.Fatal(err)
	}
	_, ts2, err := f.api.PostMessageContext(ctx, "C100", slack.MsgOptionText("second", false))
	if err != nil {
		t.Fatal(err)
	}
	if ch != "C100" || ts == "" || ts == ts2 {
		t.Fatalf("channel %q ts %q ts2 %q", ch, ts, ts2)
	}
	if _, _, _, err := f.api.UpdateMessageContext(ctx, "C100", ts, slack.MsgOptionText("edited", false)); err != nil {
		t.Fatal(err)
	}
	m, ok := f.fake.Message("C100", ts)
	if !ok || m.Text != "edited" || m.Edits != 1 || !strings.Contains(string(m.Blocks), "*hi*") || m.Team != "T1" {
		t.Fatalf("message = %+v", m)
	}
	if got := len(f.fake.Messages("C100")); got != 2 {
		t.Fatalf("messages = %d", got)
	}
	// Posting to a user id lands in the stable DM channel.
	dm, _, err := f.api.PostMessageContext(ctx, "U1", slack.MsgOptionText("dm", false))
	if err != nil || dm != slackfake.DMChannel("U1") {
		t.Fatalf("dm post: %q %v", dm, err)
	}
	// Errors Slack would give.
	for _, tc := range []struct {
		name    string
		do      func() error
		wantErr string
	}{
		{"update unknown ts", func() error {
			_, _, _, err := f.api.UpdateMessageContext(ctx, "C100", "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"post without text", func() error { _, _, err := f.api.PostMessageContext(ctx, "C100"); return err }, "no_text"},
		{"dm to other team's user", func() error {
			_, _, err := f.api.PostMessageContext(ctx, "U9", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"too many blocks", func() error {
			var bs []slack.Block
			for range 51 {
				bs = append(bs, slack.NewDividerBlock())
			}
			_, _, err := f.api.PostMessageContext(ctx, "C100", slack.MsgOptionBlocks(bs...))
			return err
		}, "invalid_blocks"},
		{"ephemeral to other team's user", func() error {
			_, err := f.api.PostEphemeralContext(ctx, "C100", "U9", slack.MsgOptionText("x", false))
			return err
		}, "user_not_in_channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %s", err, tc.wantErr)
			}
		})
	}
	ets, err := f.api.PostEphemeralContext(ctx, "C100", "U1", slack.MsgOptionText("psst", false))
	if err != nil || ets == "" {
		t.Fatalf("ephemeral: %q %v", ets, err)
	}
	if _, _, err := f.api.DeleteMessageContext(ctx, "C100", ts2); err != nil {
		t.Fatal(err)
	}
	live := f.fake.Messages("C100")
	if len(live) != 2 || !live[1].Ephemeral || live[1].Recipient != "U1" {
		t.Fatalf("live messages after delete = %+v", live)
	}
	call, err := f.fake.WaitForCall(ctx, "chat.postMessage", func(c slackfake.Call) bool { return c.Param("text") == "second" })
	if err != nil || call.Param("channel") != "C100" || call.Team != "T1" {
		t.Fatalf("WaitForCall = %+v, %v", call, err)
	}
}

func TestUsers(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	cases := []struct {
		name      string
		user      string
		wantEmail string
		wantErr   string
	}{
		{"email visible", "U1", "Alice@Example.com", ""},
		{"email hidden", "U2", "", ""},
		{"other team's user", "U9", "", "user_not_found"},
		{"unknown user", "U404", "", "user_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := f.api.GetUserInfoContext(ctx, tc.user)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tc.user || u.TeamID != "T1" || u.Profile.Email != tc.wantEmail {
				t.Fatalf("user = %+v profile %+v", u, u.Profile)
			}
		})
	}
	users, err := f.api.GetUsersInfoContext(ctx, "U1", "U2")
	if err != nil || len(*users) != 2 {
		t.Fatalf("users= : %v %v", users, err)
	}
	u, err := f.api.GetUserByEmailContext(ctx, "alice@example.COM")
	if err != nil || u.ID != "U1" {
		t.Fatalf("lookupByEmail: %+v %v", u, err)
	}
	if _, err := f.api.GetUserByEmailContext(ctx, "bob@example.com"); err == nil || err.Error() != "users_not_found" {
		t.Fatalf("hidden email lookup err = %v", err)
	}
	if err := f.fake.SetEmailScope("T1", false); err != nil {
		t.Fatal(err)
	}
	u, err = f.api.GetUserInfoContext(ctx, "U1")
	if err != nil || u.Profile.Email != "" {
		t.Fatalf("without scope: %+v %v", u, err)
	}
	if _, err := f.api.GetUserByEmailContext(ctx, "alice@example.com"); err == nil || err.Error() != "missing_scope" {
		t.Fatalf("without scope lookup err = %v", err)
	}
}

func TestOpenConversation(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	for i, wantAlready := range []bool{false, true} {
		ch, _, already, err := f.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
		if err != nil || ch.ID != "DU1" || !ch.IsIM || already != wantAlready {
			t.Fatalf("open #%d: %+v already=%v %v", i, ch, already, err)
		}
	}
	if _, _, _, err := f.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U9"}}); err == nil {
		t.Fatal("opened a DM with another team's user")
	}
}

func TestViews(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	modal := slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject("plain_text", "Request", false, false),
		Submit:     slack.NewTextBlockObject("plain_text", "Send", false, false),
		CallbackID: "request",
		ExternalID: "ext-1",
		Blocks:     slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
	}
	trig := f.fake.NewTriggerID("T1", "U1")
	v, err := f.api.OpenViewContext(ctx, trig, modal)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID == "" || v.CallbackID != "request" || v.TeamID != "T1" || v.Hash == "" || v.RootViewID != v.ID || v.AppID != f.fake.AppID() {
		t.Fatalf("view = %+v", v.View)
	}
	if _, err := f.api.OpenViewContext(ctx, trig, modal); err == nil || err.Error() != "exchanged_trigger_id" {
		t.Fatalf("reused trigger err = %v", err)
	}
	if _, err := f.api.OpenViewContext(ctx, "1.2.bogus", modal); err == nil || err.Error() != "invalid_trigger_id" {
		t.Fatalf("bogus trigger err = %v", err)
	}
	modal.ExternalID = "ext-2"
	pushed, err := f.api.PushViewContext(ctx, f.fake.NewTriggerID("T1", "U1"), modal)
	if err != nil || pushed.PreviousViewID != v.ID || pushed.RootViewID != v.ID {
		t.Fatalf("push: %+v %v", pushed, err)
	}
	if len(f.fake.OpenViews("U1")) != 2 {
		t.Fatalf("stack = %+v", f.fake.OpenViews("U1"))
	}
	modal.Title = slack.NewTextBlockObject("plain_text", "Updated", false, false)
	if _, err := f.api.UpdateViewContext(ctx, modal, "", "stale-hash", v.ID); err == nil || err.Error() != "hash_conflict" {
		t.Fatalf("stale hash err = %v", err)
	}
	modal.ExternalID = "ext-1"
	up, err := f.api.UpdateViewContext(ctx, modal, "", v.Hash, v.ID)
	if err != nil || up.ID != v.ID || up.Title.Text != "Updated" || up.Hash == v.Hash {
		t.Fatalf("update: %+v %v", up, err)
	}
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "You are *alice*", false, false), nil, nil)}}}
	hv, err := f.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home})
	if err != nil || hv.Type != slack.VTHomeTab {
		t.Fatalf("publish: %+v %v", hv, err)
	}
	got, ok := f.fake.HomeView("U1")
	if !ok || got.ID != hv.ID || !strings.Contains(string(got.JSON), "You are *alice*") {
		t.Fatalf("home view = %+v", got)
	}
	if _, err := f.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U9", View: home}); err == nil {
		t.Fatal("published to another team's user")
	}
}

func TestTriggerExpiry(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	f := newFixture(t, slackfake.WithClock(clock))
	trig := f.fake.NewTriggerID("T1", "U1")
	now = now.Add(4 * time.Second)
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "x", false, false)}
	if _, err := f.api.OpenViewContext(ctxT(t), trig, modal); err == nil || err.Error() != "expired_trigger_id" {
		t.Fatalf("err = %v", err)
	}
}

func TestOAuthV2Access(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	code, err := f.fake.IssueOAuthCode("T2", "U9", "https://bot.example/slack/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	opt := slack.OAuthOptionAPIURL(f.fake.URL())
	cases := []struct {
		name, id, secret, code, redirect, wantErr string
	}{
		{"bad secret", "cid", "wrong", code, "https://bot.example/slack/oauth/callback", "bad_client_secret"},
		{"bad client", "nope", "csecret", code, "https://bot.example/slack/oauth/callback", "invalid_client_id"},
		{"bad redirect", "cid", "csecret", code, "https://evil.example/", "bad_redirect_uri"},
		{"ok", "cid", "csecret", code, "https://bot.example/slack/oauth/callback", ""},
		{"code reused", "cid", "csecret", code, "https://bot.example/slack/oauth/callback", "invalid_code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := slack.GetOAuthV2ResponseContext(ctx, http.DefaultClient, tc.id, tc.secret, tc.code, tc.redirect, opt)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.AccessToken != f.other.BotToken || res.TokenType != "bot" || res.Team.ID != "T2" || res.Team.Name != "Other" ||
				res.BotUserID != f.other.BotUserID || res.AppID != f.fake.AppID() || res.AuthedUser.ID != "U9" || res.Scope == "" {
				t.Fatalf("oauth = %+v", res)
			}
		})
	}
	// HTTP Basic client authentication is accepted too.
	code2, _ := f.fake.IssueOAuthCode("T1", "U1", "")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.fake.URL()+"oauth.v2.access", strings.NewReader("code="+code2))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cid", "csecret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := f.fake.Calls("oauth.v2.access"); !c[len(c)-1].OK() || c[len(c)-1].Team != "T1" || c[len(c)-1].TokenKind != slackfake.TokenBasic {
		t.Fatalf("basic auth call = %+v", c[len(c)-1])
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	f.fake.FailNext("chat.postMessage", 1, http.StatusTooManyRequests, 30*time.Second)
	f.fake.FailNext("chat.postMessage", 1, http.StatusServiceUnavailable, 0)
	f.fake.FailNextError("chat.postMessage", 1, "fatal_error")

	_, _, err := f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("first err = %#v, want RateLimitedError 30s", err)
	}
	_, _, err = f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("second err = %#v", err)
	}
	if _, _, err = f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "fatal_error" {
		t.Fatalf("third err = %v", err)
	}
	if _, _, err = f.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("fourth err = %v", err)
	}
	calls := f.fake.Calls("chat.postMessage")
	if len(calls) != 4 || calls[0].Status != 429 || calls[1].Status != 503 || !calls[3].OK() {
		t.Fatalf("calls = %+v", calls)
	}

	f.fake.Delay("auth.test", time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.api.AuthTestContext(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed auth.test err = %v", err)
	}
}

func TestResponseURL(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	_, ts, err := f.api.PostMessageContext(ctx, "C5", slack.MsgOptionText("Approve?", false))
	if err != nil {
		t.Fatal(err)
	}
	p := f.fake.BlockActionOnMessage("T1", "U1", "C5", ts, slackfake.Action{ActionID: "approve", Value: "req-1"})
	if _, _, err := f.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(p.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionReplaceOriginal(p.ResponseURL), slack.MsgOptionText("Approved", false)); err != nil {
		t.Fatal(err)
	}
	m, _ := f.fake.Message("C5", ts)
	if m.Text != "Approved" || m.Edits != 1 {
		t.Fatalf("replaced message = %+v", m)
	}
	if _, _, err := f.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(p.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	live := f.fake.Messages("C5")
	if len(live) != 2 || !live[1].Ephemeral || live[1].Recipient != "U1" || live[1].Text != "only you" {
		t.Fatalf("messages = %+v", live)
	}
}

// TestRateLimit: a window of 429s per team and method, Retry-After being
// the time left, counted; other teams and methods are served.
func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, slackfake.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	other := slack.New(f.other.BotToken, slack.OptionAPIURL(f.fake.URL()))
	f.fake.RateLimit("users.info", 3*time.Second, 1)
	ctx := ctxT(t)
	retryAfter := func(c *slack.Client, user string) time.Duration {
		t.Helper()
		_, err := c.GetUserInfoContext(ctx, user)
		var rl *slack.RateLimitedError
		if err == nil {
			return 0
		}
		if !errors.As(err, &rl) {
			t.Fatalf("users.info: %v", err)
		}
		return rl.RetryAfter
	}
	steps := []struct {
		name    string
		client  *slack.Client
		user    string
		advance time.Duration
		want    time.Duration
	}{
		{"trips the window", f.api, "U1", 0, 3 * time.Second},
		{"inside, time left rounded up", f.api, "U1", 1500 * time.Millisecond, 2 * time.Second},
		{"another team is not limited", other, "U9", 0, 0},
		{"after the window", f.api, "U1", 1600 * time.Millisecond, 0},
		{"no more windows", f.api, "U1", 0, 0},
	}
	for _, s := range steps {
		advance(s.advance)
		if got := retryAfter(s.client, s.user); got != s.want {
			t.Errorf("%s: Retry-After %s, want %s", s.name, got, s.want)
		}
	}
	if _, _, _, err := f.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}}); err != nil {
		t.Errorf("another method: %v", err)
	}
	if got, want := f.fake.RateLimitCounts("users.info"), (slackfake.RateLimitStats{Limited: 2, Windows: 1, InsideWait: 1}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}
