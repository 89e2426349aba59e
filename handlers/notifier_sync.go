package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/jobs"
)

// Notification jobs of one request run concurrently (River works jobs in
// parallel, and across replicas), so a job may read the request, lose the
// CPU, and write a message after the job of a later change (a decision, an
// escalation, the request ending) already wrote the newer state. Rather than
// serialize jobs, every write of a request's standing messages (approval
// copies, the requester's confirmation) is rendered from the request as
// stored right before it and re-checked right after it: see sync.

// maxSyncRounds bounds sync; a request changes a handful of times at most
// while a job writes, and a job that still finds it moving fails and is retried.
const maxSyncRounds = 4

// renderer renders one standing message of a request from its stored state.
type renderer func(req *accessbot.AccessRequest, card views.RequestCard) (string, []slack.Block)

// approvalView renders level's approval message: buttons while the level
// is open, who decided (or how it ended) once closed.
func approvalView(level int) renderer {
	return func(req *accessbot.AccessRequest, card views.RequestCard) (string, []slack.Block) {
		st := views.LevelState{Level: level, Closed: requests.LevelClosed(req, level), Decisions: decisionsAt(card.Decisions, level)}
		if level >= 0 && level < len(req.Levels) {
			st.Needed = req.Levels[level].Needed()
		}
		return views.ApprovalMessage(card, st)
	}
}

// requesterView renders the requester's confirmation.
func requesterView(_ *accessbot.AccessRequest, card views.RequestCard) (string, []slack.Block) {
	return views.RequesterMessage(card)
}

// view is a message rendered from the request as stored when it was read.
type view struct {
	req  *accessbot.AccessRequest
	card views.RequestCard
	msg  slackapi.Message
	key  string // the rendered text and blocks: equal keys show the same thing
}

// current re-reads req (and its decisions) and renders it.
func (n *Notifier) current(ctx context.Context, req *accessbot.AccessRequest, render renderer) (view, error) {
	cur, err := n.st.GetRequest(ctx, req.TenantID, req.ID)
	if err != nil {
		return view{}, fmt.Errorf("re-read request %s: %w", req.ID, err)
	}
	card, err := n.cards.card(ctx, cur, true)
	if err != nil {
		return view{}, err
	}
	text, blocks := render(cur, card)
	b, err := json.Marshal(blocks)
	if err != nil {
		return view{}, fmt.Errorf("render message of request %s: %w", req.ID, err)
	}
	return view{req: cur, card: card, msg: slackapi.Message{Text: text, Blocks: blocks}, key: text + "\x00" + string(b)}, nil
}

// sync makes every message of req with purpose show what render makes of
// the request as stored now. shown is the key of what they show already
// (what the caller just posted; "" when unknown). It re-reads after each
// round of chat.update and stops when nothing changed in between: a change
// committed before that re-read is written here, and one committed after it
// is written by that change's own job, which runs later and lists the
// messages saved before. So whichever order concurrent jobs interleave in,
// the last write of every copy shows the current state.
func (n *Notifier) sync(ctx context.Context, cl ChatAPI, req *accessbot.AccessRequest, purpose string, render renderer, shown string) error {
	return n.settle(ctx, req, purpose, render, shown, func(ctx context.Context, v view) error {
		refs, err := n.refs(ctx, req, purpose)
		if err != nil {
			return err
		}
		var errs []error
		for _, r := range refs {
			errs = append(errs, n.update(ctx, cl, req, purpose, r, v))
		}
		return errors.Join(errs...)
	})
}

// settle is sync's loop: write what render makes of req as stored now,
// unless it is shown already, then read again, until nothing changed in
// between. Every writer of a standing message must end this way: a write
// that read the request before a change committed may reach Slack after
// that change's own write, and only the re-read after it puts the newer
// state back. (A read may even mix the two: the request before a decision
// committed, its decisions after.)
func (n *Notifier) settle(ctx context.Context, req *accessbot.AccessRequest, purpose string, render renderer, shown string,
	write func(context.Context, view) error) error {
	for range maxSyncRounds {
		v, err := n.current(ctx, req, render)
		if err != nil {
			return err
		}
		if v.key == shown {
			return nil
		}
		if err := write(ctx, v); err != nil {
			return err
		}
		shown = v.key
	}
	return fmt.Errorf("update %s messages of request %s: it kept changing meanwhile (%d rounds); retry", purpose, req.ID, maxSyncRounds)
}

// updateMessage rewrites the message at ch/ts to show msg, unless the job
// running in ctx already made that very write, in this run or an earlier one
// (jobs.Wrote): a job retried or snoozed after a partial run (one of its
// later Slack calls refused by a full pace) goes on from where it was
// instead of spending the pace on its earlier updates again.
func updateMessage(ctx context.Context, cl ChatAPI, ch, ts string, msg slackapi.Message) error {
	target, digest := messageTarget(ch, ts), messageDigest(msg)
	if jobs.Wrote(ctx, target, digest) {
		return nil
	}
	if err := cl.UpdateMessage(ctx, ch, ts, msg); err != nil {
		return err
	}
	jobs.NoteWrite(ctx, target, digest)
	return nil
}

// messageTarget names the Slack message at ch/ts for jobs.Wrote.
func messageTarget(ch, ts string) string { return "slack:" + ch + "/" + ts }

// messageDigest tells apart what two messages show.
func messageDigest(m slackapi.Message) string {
	h := sha256.New()
	h.Write([]byte(m.Text))
	h.Write([]byte{0})
	_ = json.NewEncoder(h).Encode(m.Blocks)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// update writes v to one message, unless this process knows it shows v already.
func (n *Notifier) update(ctx context.Context, cl ChatAPI, req *accessbot.AccessRequest, purpose string, r accessbot.MessageRef, v view) error {
	if n.shown.skip(r.ChannelID, r.TS, v.key, n.now()) {
		return nil
	}
	n.shown.begin(r.ChannelID, r.TS)
	if err := updateMessage(ctx, cl, r.ChannelID, r.TS, v.msg); err != nil {
		n.shown.end(r.ChannelID, r.TS, "", n.now())
		return fmt.Errorf("update %s message %s/%s of %s: %w", purpose, r.ChannelID, r.TS, req.ID, err)
	}
	n.shown.end(r.ChannelID, r.TS, v.key, n.now())
	return nil
}
