package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/slackapi"
)

// errNoRoute means a message had nowhere to go (no response_url, no client).
var errNoRoute = errors.New("no way to reach the user")

// responder delivers a Message after the ack: response_url first, then the
// workspace's Web API.
type responder struct {
	http *http.Client
}

func (p *responder) send(ctx context.Context, r *Request, m Message) error {
	m = guardMessage(r, m)
	if r.ResponseURL != "" {
		return p.postResponseURL(ctx, r.ResponseURL, m)
	}
	if r.API == nil || r.UserID == "" {
		return fmt.Errorf("respond to envelope %s: %w", r.EnvelopeID, errNoRoute)
	}
	sm := slackapi.Message{Text: m.Text, Blocks: m.Blocks}
	if r.ChannelID != "" && !m.InChannel {
		if _, err := r.API.PostEphemeral(ctx, r.ChannelID, r.UserID, sm); err == nil {
			return nil
		} else {
			r.Log.Debug().Err(err).Str("envelope", r.EnvelopeID).Msg("chat.postEphemeral failed, sending a DM instead")
		}
	}
	// A user id as channel makes chat.postMessage open the DM with the bot.
	if _, _, err := r.API.PostMessage(ctx, r.UserID, sm); err != nil {
		return fmt.Errorf("respond to envelope %s by DM: %w", r.EnvelopeID, err)
	}
	return nil
}

// postResponseURL posts m as JSON, the way Slack's response_url expects.
func (p *responder) postResponseURL(ctx context.Context, url string, m Message) error {
	body, err := json.Marshal(m.wire())
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return p.postBody(ctx, url, body)
}

// postBody posts an encoded message to a response_url.
func (p *responder) postBody(ctx context.Context, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post response_url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("post response_url: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post response_url: status %d", resp.StatusCode)
	}
	return nil
}

// guardMessage passes m through the Block Kit guard: it is fitted (text
// and blocks cut with a visible "…and N more"); a message that still breaks
// Slack's limits is replaced by its text alone (cut to size), and the fault
// logged.
func guardMessage(r *Request, m Message) Message {
	if paths := blockkit.MarkupPaths(m.Text, m.Blocks); len(paths) > 0 {
		r.Log.Warn().Str("envelope", r.EnvelopeID).Strs("paths", paths).
			Msg("answer carries unescaped Slack markup from data; escaped")
	}
	text, blocks, err := blockkit.FitMessage(m.Text, m.Blocks)
	if err == nil {
		m.Text, m.Blocks = text, blocks
		return m
	}
	r.Log.Error().Err(err).Str("envelope", r.EnvelopeID).Msg("message fails the Block Kit guard, sending text only")
	m.Blocks = nil
	m.Text = blockkit.Truncate(m.Text, blockkit.MaxMessageText)
	if m.Text == "" {
		m.Text = fmt.Sprintf(MsgSorry, r.EnvelopeID)
	}
	return m
}
