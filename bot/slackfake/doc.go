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
// Socket Mode: apps.connections.open hands out ws://…/link/?ticket=…&app_id=…;
// a socket gets hello (connection_info.app_id, num_connections,
// debug_info.approximate_connection_time 18060) and WebSocket PINGs every
// WithPingInterval (slack-go reconnects without them). Send, SendSlashCommand,
// SendInteractive, SendEvent and SendRaw push envelopes (envelope_id,
// accepts_response_payload, retry_attempt, retry_reason) to one open socket,
// round robin; with no socket open they queue until one connects. Payload
// builders (SlashCommand, BlockAction, BlockActionOnMessage,
// BlockActionInView, ViewSubmission, ViewClosed, EventCallback,
// AppHomeOpened, UserChange, AppMention) use Slack's field names and hand out
// live trigger_ids and response_urls. Acks are matched by envelope_id
// (AwaitAck, AcksFor) and take effect as on Slack: a slash command's ack
// message appears in the channel, a view_submission's response_action
// changes the modal stack. Redeliver resends with retry_attempt+1 and
// retry_reason "timeout" (automatic with WithAckTimeout). Disconnect,
// DisconnectConn and DisconnectAll send {"type":"disconnect","reason":…}
// then close; DropConnections closes abruptly; the socket beyond
// MaxSockets (10) gets too_many_websockets.
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
