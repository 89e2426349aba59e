// Package slackfake is a fake Slack for tests and a local playground: a real
// HTTP server (httptest) that answers the Web API methods accessbot calls in
// Slack's JSON shapes, speaks Socket Mode over a WebSocket, records every
// call and ack, and injects faults.
//
// Point slack-go at it with slack.OptionAPIURL(fake.URL()) (and
// slack.OAuthOptionAPIURL for oauth.v2.access). Workspaces and their users
// are configured with AddTeam and AddUser; each team has a bot token that
// its calls must carry (unknown → invalid_auth, RevokeToken → token_revoked).
//
// Web API: apps.connections.open (Bearer xapp only), auth.test,
// chat.postMessage/update/postEphemeral/delete, views.open/push/update/publish
// (trigger_ids are single use and expire, see WithTriggerTTL),
// users.info (user= or users=), users.lookupByEmail, conversations.open (DM
// id is DMChannel(user)), oauth.v2.access (IssueOAuthCode; client id/secret
// by HTTP Basic or form) and response_url posts on the fake itself. Form,
// JSON+Bearer and GET+query requests are all accepted.
//
// Recorder: Calls, WaitForCall, Messages/Message/WaitForMessage (current
// text and blocks after updates), OpenViews, HomeView, Acks, AwaitAck and the
// general WaitFor, which re-checks its condition on every recorded change
// instead of polling.
//
// Faults: FailNext (429 with Retry-After, 5xx), FailNextError (ok:false),
// Delay.
//
// The package never imports testing, so cmd tools may embed it.
package slackfake
