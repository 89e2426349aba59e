package handlers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
)

// shownTTL bounds how long the notifier trusts its memory of what a message
// shows; maxShown bounds the memory itself.
const (
	shownTTL = time.Hour
	maxShown = 4096
)

// shownMemo remembers what this process last wrote each standing message
// (channel and ts) to show, so sync skips a chat.update that would change
// nothing: the copy the approver clicked, already replaced through the
// click's response_url, and a confirmation whose card did not move. Only a
// write that overlapped no other write of the same message is remembered
// (overlapping ones may reach Slack in either order), and nothing is
// skipped while a write is on its way. It is only a shortcut: a message it
// does not know (written by another replica, or forgotten) is updated as
// before.
type shownMemo struct {
	mu    sync.Mutex
	shown map[string]*shownEntry
}

type shownEntry struct {
	sum      uint64
	known    bool
	at       time.Time
	inflight int
	overlap  bool // a write began while another was on its way
	held     int  // clicks about to replace it (hold)
	skipped  bool // a sync left it alone while held
}

func msgKey(channel, ts string) string { return channel + "\x00" + ts }

func viewSum(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// skip reports whether a sync may leave the message alone: a click is
// about to replace it (hold), or it was last written with view key and no
// write of it is on its way.
func (m *shownMemo) skip(channel, ts, key string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.shown[msgKey(channel, ts)]
	if e == nil {
		return false
	}
	if e.held > 0 {
		e.skipped = true
		return true
	}
	return e.known && e.inflight == 0 && e.sum == viewSum(key) && now.Sub(e.at) < shownTTL
}

// entry returns the message's entry, creating it; m.mu held.
func (m *shownMemo) entry(channel, ts string) *shownEntry {
	if m.shown == nil || len(m.shown) >= maxShown {
		// A shortcut only: starting over is safe, but writes on their way
		// and holds must stay marked.
		kept := map[string]*shownEntry{}
		for k, e := range m.shown {
			if e.inflight > 0 || e.held > 0 {
				e.known = false
				kept[k] = e
			}
		}
		m.shown = kept
	}
	k := msgKey(channel, ts)
	e := m.shown[k]
	if e == nil {
		e = &shownEntry{}
		m.shown[k] = e
	}
	return e
}

// tidy drops an entry that holds nothing; m.mu held.
func (m *shownMemo) tidy(channel, ts string, e *shownEntry) {
	if e.inflight == 0 && e.held == 0 && !e.known && !e.skipped {
		delete(m.shown, msgKey(channel, ts))
	}
}

// hold makes syncs leave the message alone until release: a click on it
// will write it.
func (m *shownMemo) hold(channel, ts string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entry(channel, ts).held++
}

// release ends a hold; it reports whether a sync left the message alone
// meanwhile, which the caller must then make up for.
func (m *shownMemo) release(channel, ts string) (skipped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.shown[msgKey(channel, ts)]
	if e == nil {
		return false
	}
	e.held--
	skipped, e.skipped = e.skipped, false
	m.tidy(channel, ts, e)
	return skipped
}

// begin marks a write of the message on its way; call end when it returns.
func (m *shownMemo) begin(channel, ts string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(channel, ts)
	e.overlap = e.overlap || e.inflight > 0
	e.inflight++
}

// end records a write's outcome: the message shows key if the write
// succeeded (key != "") and no other write overlapped it; otherwise what it
// shows is not known.
func (m *shownMemo) end(channel, ts, key string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.shown[msgKey(channel, ts)]
	if e == nil {
		return
	}
	e.inflight--
	e.known = !e.overlap && key != ""
	if e.known {
		e.sum, e.at = viewSum(key), now
	}
	if e.inflight == 0 {
		e.overlap = false
	}
	m.tidy(channel, ts, e)
}

// OnClicked runs decide, the decision of an approver who clicked a button
// on their approval DM, and then replaces that message (the click's own
// copy) with the level as stored now, through the click's response_url: the
// clicker sees the outcome at once, and Slack does not count it against
// chat.update's rate limit. While it runs, the notifier's syncs leave that
// copy alone (they update the others); afterwards it reads the request
// again and updates the copy by chat.update if it changed meanwhile, as
// sync does, so the copy ends showing the latest state. That holds when
// decide fails too (a racing approver won, say): a sync that skipped the
// copy is made up for. decide's error is returned as is; failing to update
// the copy is only logged.
func (n *Notifier) OnClicked(ctx context.Context, req *bot.Request, r *accessbot.AccessRequest, level int, decide func(context.Context) error) error {
	ch, ts := req.Interaction.Container.ChannelID, req.Interaction.Container.MessageTs
	c := clicked{n: n, r: r, level: level, ch: ch, ts: ts, held: true}
	n.shown.hold(ch, ts)
	defer c.release(ctx) // a panic in decide must not hold the copy for good
	err := decide(ctx)
	if err == nil {
		err = c.show(ctx, req)
		if err != nil {
			n.log.Warn().Err(err).Str("tenant", r.TenantID).Str("request", r.ID).Msg("the clicked approval message was not updated at once")
		}
		return nil
	}
	return err
}

// clicked is one OnClicked: the copy clicked, and whether it is held.
type clicked struct {
	n       *Notifier
	r       *accessbot.AccessRequest
	level   int
	ch, ts  string
	held    bool
	written string // the view key the click wrote, "" if none
}

// release ends the hold and, if a sync skipped the copy meanwhile and the
// click did not write it, writes what it should show now.
func (c *clicked) release(ctx context.Context) {
	if !c.held {
		return
	}
	c.held = false
	if skipped := c.n.shown.release(c.ch, c.ts); skipped && c.written == "" {
		if err := c.catchUp(ctx); err != nil {
			c.n.log.Warn().Err(err).Str("tenant", c.r.TenantID).Str("request", c.r.ID).Msg("approval message not updated after a click")
		}
	}
}

// show writes the level as stored now through the click's response_url,
// ends the hold, then reads again: a sync that skipped the copy carried a
// change committed before that read, which catchUp writes.
func (c *clicked) show(ctx context.Context, req *bot.Request) error {
	n := c.n
	v, err := n.current(ctx, c.r, approvalView(c.level))
	if err == nil {
		n.shown.begin(c.ch, c.ts)
		err = req.Respond(ctx, bot.Message{Text: v.msg.Text, Blocks: v.msg.Blocks, ReplaceOriginal: true})
		if err != nil {
			n.shown.end(c.ch, c.ts, "", n.now())
			err = fmt.Errorf("replace the clicked message of %s: %w", c.r.ID, err)
		} else {
			n.shown.end(c.ch, c.ts, v.key, n.now())
			c.written = v.key
		}
	}
	c.held = false
	n.shown.release(c.ch, c.ts)
	return errors.Join(err, c.catchUp(ctx))
}

// catchUp updates the copy by chat.update to the level as stored now,
// unless it shows that already, reading again after each write as sync
// does: the click's writes run beside the jobs of later decisions (a racing
// approver's), and one that read before such a decision committed must not
// be the copy's last.
func (c *clicked) catchUp(ctx context.Context) error {
	n := c.n
	purpose := approvalPurpose(c.level)
	ref := accessbot.MessageRef{TenantID: c.r.TenantID, ObjectID: c.r.ID, Purpose: purpose, ChannelID: c.ch, TS: c.ts}
	var cl ChatAPI // looked up only if there is something to write
	return n.settle(ctx, c.r, purpose, approvalView(c.level), c.written, func(ctx context.Context, v view) error {
		if cl == nil {
			var err error
			if cl, _, err = n.tenantClient(ctx, c.r.TenantID); err != nil {
				return err
			}
		}
		return n.update(ctx, cl, c.r, purpose, ref, v)
	})
}
