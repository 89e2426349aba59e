package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// Envelope kinds: the mix (a third each), and the approval clicks.
const (
	kindHelp   = iota // "/access help": answered on the ack
	kindAction        // block_actions on an unknown action: acked, answered by response_url
	kindHome          // app_home_opened: acked, then views.publish
	kindClick         // Approve on an approval DM (accessbot runs only)
	kindCount
)

var kindTypes = [kindCount]string{slackfake.TypeSlashCommands, slackfake.TypeInteractive, slackfake.TypeEventsAPI, slackfake.TypeInteractive}

// Targets. The baseline is accessbot built from another commit (-baseline),
// run the same way, to compare two versions in the same minutes.
const (
	targetAccessbot = "accessbot"
	targetBaseline  = "baseline"
	targetBare      = "bare"
)

// isAccessbot reports whether target runs an accessbot binary.
func isAccessbot(target string) bool { return target == targetAccessbot || target == targetBaseline }

// lateAfter is when Slack gives up waiting for an ack: the user sees an
// error for a command or click, and an event is redelivered.
const lateAfter = 3 * time.Second

type item struct {
	kind     int
	raw      json.RawMessage
	approval int    // index into approvals, kindClick only
	user     string // kindHome: built when sent, so that it carries the view
	// shown then, as Slack's app_home_opened does
}

// approval is one request waiting for Eve, and where she was asked.
type approval struct {
	id, channel, ts string
	requester       int
}

// spec is one run.
type spec struct {
	target    string
	store     string // "" for the bare bot
	rate      float64
	duration  time.Duration
	round     int
	approvals int
	idle      bool // send nothing: measure the bot's CPU at rest
}

// result is what one run measured.
type result struct {
	spec
	load                                 string
	sent, acked, lost, late, redelivered int
	lat                                  []time.Duration // sorted, acked envelopes only
	maxSendLag                           time.Duration
	cpu                                  time.Duration
	pgCPU                                time.Duration // the bot's PostgreSQL backends over the same time
	rssKiB                               int64
	drainedAfter                         time.Duration              // last send → last piece of work seen
	workMissing                          int                        // Home handlers and response_url answers owed but not seen
	homes, published                     int                        // Home handlers done; views.publish calls (an unchanged Home is not published again)
	rendered                             int                        // Home opens that rendered the view (published or not)
	versionReads                         int                        // Home versions read from the database by a store that keeps them (PostgreSQL); -1: not counted by this build
	versionMoves, adminMoves             int64                      // how far the tenant's Home version (everyone's part; the admins') moved during the run
	kindLat                              [kindCount][]time.Duration // sorted ack latencies by kind
	updated, dm                          []time.Duration
	clicked, notUpdated, noDM            int
	chatUpdates, chatPosts, responseURLs int // during the run, for the approvals
	startToConnect                       time.Duration
	profile                              string
}

func (r *result) cpuPerEnvelope() time.Duration {
	if r.sent == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.sent)
}

// pgPerEnvelope is the bot's PostgreSQL backends' CPU per envelope.
func (r *result) pgPerEnvelope() time.Duration {
	if r.sent == 0 {
		return 0
	}
	return r.pgCPU / time.Duration(r.sent)
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runOne starts a fresh fake Slack (and store), the target as its own
// process, sends the mix at sp.rate for sp.duration, and measures.
func runOne(ctx context.Context, cfg *config, sp spec) (*result, error) {
	dir, err := os.MkdirTemp(cfg.workDir, fmt.Sprintf("%s-%s-%g-", sp.target, sp.store, sp.rate))
	if err != nil {
		return nil, err
	}
	w := newWorld(cfg.users, sp.approvals)
	defer w.close()
	res := &result{spec: sp, load: uptime(ctx)}

	var p *proc
	admin := ""
	switch sp.target {
	case targetAccessbot, targetBaseline:
		if err := w.openStore(ctx, sp.store, dir, cfg.pgDSN, cfg.warmIDs); err != nil {
			return nil, err
		}
		if err := w.addRequesters(ctx, sp.approvals); err != nil {
			return nil, err
		}
		admin = freeAddr() // its /metrics say when the Home handlers are done
		bin := cfg.accessbot
		if sp.target == targetBaseline {
			bin = cfg.baseline
		}
		p, err = startProc(sp.target, bin, []string{"run"}, w.accessbotEnv(admin, cfg.profileDir != ""), filepath.Join(dir, "run.log"))
	case targetBare:
		p, err = startProc(sp.target, cfg.barebot, nil, w.barebotEnv(), filepath.Join(dir, "run.log"))
	default:
		return nil, fmt.Errorf("unknown target %q", sp.target)
	}
	if err != nil {
		return nil, err
	}
	defer p.stop(30 * time.Second)
	started := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = w.fake.WaitForConnections(wctx, 1)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s did not connect to the fake Slack: %w\nlog:\n%s", sp.target, err, p.tail())
	}
	res.startToConnect = time.Since(started)
	if isAccessbot(sp.target) {
		// Default configuration: 2 sockets.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = w.fake.WaitForConnections(wctx, 2)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("accessbot did not open its 2nd socket: %w\nlog:\n%s", err, p.tail())
		}
	}
	var aps []approval
	if isAccessbot(sp.target) && sp.approvals > 0 {
		if aps, err = w.askApprovals(ctx, sp.approvals); err != nil {
			return nil, fmt.Errorf("%w\nlog:\n%s", err, p.tail())
		}
	}
	plan, err := w.plan(sp, aps)
	if err != nil {
		return nil, err
	}
	// Settle: a run starts on an idle bot (its setup posts and River's first polls done).
	time.Sleep(time.Second)
	if sp.idle {
		profDone := make(chan string, 1)
		if cfg.profileDir != "" {
			go func() { profDone <- fetchProfile(ctx, admin, sp, cfg.profileDir) }()
		} else {
			profDone <- ""
		}
		r, err := measureIdle(ctx, p, res)
		if r != nil {
			r.profile = <-profDone
		}
		return r, err
	}

	callsBefore := len(w.fake.Calls(""))
	acksBefore := w.fake.AckCount()
	homes0, rendered0, version0 := 0, 0, store.HomeVersion{}
	reads0, readsCounted := 0, false
	if admin != "" {
		reads0, readsCounted, err = homeVersionReads(ctx, admin)
		if err != nil {
			return nil, err
		}
		if homes0, err = homesHandled(ctx, admin); err != nil {
			return nil, err
		}
		if rendered0, err = homesRendered(ctx, admin); err != nil {
			return nil, err
		}
		if version0, err = w.st.HomeVersion(ctx, w.tenant, "", true); err != nil {
			return nil, err
		}
	}
	cpu0, err := cpuTime(p.pid())
	if err != nil {
		return nil, err
	}
	pg0, err := w.pgBackends(ctx)
	if err != nil {
		return nil, err
	}
	profDone := make(chan string, 1)
	if cfg.profileDir != "" {
		go func() { profDone <- fetchProfile(ctx, admin, sp, cfg.profileDir) }()
	}
	ids := make([]string, len(plan))
	start := time.Now()
	var every time.Duration
	if sp.rate > 0 {
		every = time.Duration(float64(time.Second) / sp.rate)
	}
	clickEvery := sp.duration / time.Duration(max(len(aps), 1))
	mixed := 0
	for i, it := range plan {
		var at time.Time
		if it.kind == kindClick {
			at = start.Add(clickEvery*time.Duration(it.approval) + clickEvery/2)
		} else {
			at = start.Add(time.Duration(mixed) * every)
			mixed++
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else {
			res.maxSendLag = max(res.maxSendLag, -d)
		}
		raw := it.raw
		if it.kind == kindHome {
			if raw, err = json.Marshal(w.fake.AppHomeOpened(w.team.ID, it.user)); err != nil {
				return nil, err
			}
		}
		if ids[i], err = w.fake.Send(kindTypes[it.kind], raw); err != nil {
			return nil, err
		}
	}
	lastSend := time.Now()
	res.sent = len(plan)

	// Wait for every ack (redeliveries included: 3 retries 3 s apart) and
	// the work after them.
	owed := [kindCount]int{}
	for _, it := range plan {
		owed[it.kind]++
	}
	deadline := lastSend.Add(4*lateAfter + 3*time.Second)
	var lastWork time.Time
	homes := 0
	for time.Now().Before(deadline) && !p.exited() {
		done := w.fake.AckCount()-acksBefore >= len(plan)
		if isAccessbot(sp.target) {
			done = done && w.fake.CallCount("response_url") >= owed[kindAction] &&
				w.approvalsDone(aps, ids, plan)
			if done {
				// Only now ask the bot, so polling adds little to its CPU.
				n, err := homesHandled(ctx, admin)
				homes = n - homes0
				if done = err == nil && homes >= owed[kindHome]; done {
					lastWork = time.Now()
				}
			}
		}
		if done {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu1, err := cpuTime(p.pid())
	if err != nil {
		return nil, fmt.Errorf("%w (did %s exit?)\nlog:\n%s", err, sp.target, p.tail())
	}
	res.cpu = cpu1 - cpu0
	pg1, err := w.pgBackends(ctx)
	if err != nil {
		return nil, err
	}
	res.pgCPU = backendCPU(pg0, pg1)
	if res.rssKiB, err = peakRSS(p.pid()); err != nil {
		return nil, err
	}
	if cfg.profileDir != "" {
		res.profile = <-profDone
	}

	// Measure on the fake's records.
	sentIDs := map[string]int{}
	for i, id := range ids {
		sentIDs[id] = i
	}
	first := map[string]time.Time{}
	redelivered := map[string]bool{}
	for _, d := range w.fake.Deliveries() {
		if _, ok := sentIDs[d.Envelope.EnvelopeID]; !ok {
			continue
		}
		if _, ok := first[d.Envelope.EnvelopeID]; !ok {
			first[d.Envelope.EnvelopeID] = d.Time
		}
		if d.Envelope.RetryAttempt > 0 {
			redelivered[d.Envelope.EnvelopeID] = true
		}
	}
	res.redelivered = len(redelivered)
	acked := map[string]time.Time{}
	for _, a := range w.fake.Acks() {
		if _, ok := sentIDs[a.EnvelopeID]; !ok {
			continue
		}
		if _, ok := acked[a.EnvelopeID]; !ok {
			acked[a.EnvelopeID] = a.Time
		}
	}
	for i, id := range ids {
		at, ok := acked[id]
		if !ok {
			res.lost++
			continue
		}
		l := at.Sub(first[id])
		if l > lateAfter {
			res.late++
		}
		res.lat = append(res.lat, l)
		res.kindLat[plan[i].kind] = append(res.kindLat[plan[i].kind], l)
	}
	res.acked = len(res.lat)
	slices.Sort(res.lat)
	for k := range res.kindLat {
		slices.Sort(res.kindLat[k])
	}

	calls := w.fake.Calls("")[callsBefore:]
	for _, c := range calls {
		if c.Time.After(lastWork) {
			lastWork = c.Time
		}
	}
	if !lastWork.IsZero() {
		res.drainedAfter = max(lastWork.Sub(lastSend), 0)
	}
	if isAccessbot(sp.target) {
		if homes < owed[kindHome] { // the loop ended early: read once more
			if n, err := homesHandled(ctx, admin); err == nil {
				homes = n - homes0
			}
		}
		res.homes, res.published = homes, countCalls(calls, "views.publish")
		if n, err := homesRendered(ctx, admin); err == nil {
			res.rendered = n - rendered0
		}
		res.versionReads = -1
		if n, ok, err := homeVersionReads(ctx, admin); err == nil && ok && readsCounted {
			res.versionReads = n - reads0
		}
		if v, err := w.st.HomeVersion(ctx, w.tenant, "", true); err == nil {
			res.versionMoves, res.adminMoves = v.Tenant-version0.Tenant, v.Admins-version0.Admins
		}
		res.workMissing = max(owed[kindHome]-homes, 0) +
			max(owed[kindAction]-countUnknownActionAnswers(calls), 0)
		w.measureApprovals(res, aps, ids, plan, first, calls)
	}
	return res, nil
}

// measureIdle reads the bot's CPU time over sp.duration with nothing sent:
// its background work (job polling, timers, pings, metrics).
func measureIdle(ctx context.Context, p *proc, res *result) (*result, error) {
	cpu0, err := cpuTime(p.pid())
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(res.duration):
	}
	cpu1, err := cpuTime(p.pid())
	if err != nil {
		return nil, fmt.Errorf("%w (did %s exit?)\nlog:\n%s", err, res.target, p.tail())
	}
	res.cpu = cpu1 - cpu0
	if res.rssKiB, err = peakRSS(p.pid()); err != nil {
		return nil, err
	}
	return res, nil
}

// idlePerSecond is the CPU an idle run used per second of wall time.
func (r *result) idlePerSecond() time.Duration {
	if r.duration <= 0 {
		return 0
	}
	return time.Duration(float64(r.cpu) / r.duration.Seconds())
}

func countCalls(calls []slackfake.Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// countUnknownActionAnswers counts response_url posts not tied to a message
// (the unknown actions' answers; approval clicks are on a message).
func countUnknownActionAnswers(calls []slackfake.Call) int {
	n := 0
	for _, c := range calls {
		if c.Method == "response_url" && c.Param("ts") == "" {
			n++
		}
	}
	return n
}

// plan builds every payload before the clock starts, so sending only
// writes frames; but an app_home_opened is built when it is sent, because
// Slack's carries the view shown at that moment. The mix takes kinds in turn (over 2 sockets, each gets
// every kind); clicks go in at their time, one per approval spread over the run.
func (w *world) plan(sp spec, aps []approval) ([]item, error) {
	k := int(sp.rate * sp.duration.Seconds())
	var out []item
	clickEvery := float64(k) / float64(max(len(aps), 1))
	next := 0
	for i := 0; i <= k; i++ {
		for next < len(aps) && (float64(next)+0.5)*clickEvery <= float64(i) {
			a := aps[next]
			p := w.fake.BlockActionOnMessage(w.team.ID, approverSlack, a.channel, a.ts, slackfake.Action{
				ActionID: views.ActionApprove, BlockID: views.ApprovalActionsBlockID(0, 1), Value: a.id, Type: "button"})
			js, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			out = append(out, item{kind: kindClick, raw: js, approval: next})
			next++
		}
		if i == k {
			break
		}
		user := w.users[(i/3)%len(w.users)]
		var p any
		kind := i % 3
		switch kind {
		case kindHelp:
			p = w.fake.SlashCommand(w.team.ID, user, "help")
		case kindAction:
			p = w.fake.BlockAction(w.team.ID, user, slackfake.Action{ActionID: fmt.Sprintf("load_unknown_%d", i), Value: "x"})
		case kindHome:
			out = append(out, item{kind: kind, user: user})
			continue
		}
		js, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		out = append(out, item{kind: kind, raw: js})
	}
	return out, nil
}

// askApprovals creates n requests (one per requester) and waits until the
// bot has DMed Eve each one and told each requester it waits for her.
func (w *world) askApprovals(ctx context.Context, n int) ([]approval, error) {
	var aps []approval
	for i := range n {
		r, err := w.svc.Create(ctx, requestsInput(w, i))
		if err != nil {
			return nil, fmt.Errorf("create request %d: %w", i, err)
		}
		aps = append(aps, approval{id: r.ID, requester: i})
	}
	deadline := time.Now().Add(60*time.Second + time.Duration(n)*time.Second)
	for time.Now().Before(deadline) {
		found := 0
		posts := w.fake.DeliveryPosts(slackapi.DeliveryEventType)
		for _, m := range w.fake.AllMessages() {
			if m.Metadata == nil || m.Source != "chat.postMessage" {
				continue
			}
			key, _ := m.Metadata.EventPayload["key"].(string)
			for j := range aps {
				if key == "request:"+aps[j].id+":approval:1:"+w.eve.ID {
					aps[j].channel, aps[j].ts = m.Channel, m.TS
				}
			}
		}
		for _, a := range aps {
			waiting := "request:" + a.id + ":waiting:L0:" + w.requesters[a.requester].ID + "@" + slackfake.DMChannel(requesterSlack(a.requester))
			if a.ts != "" && posts[waiting] > 0 {
				found++
			}
		}
		if found == n {
			// Let the last confirmation refreshes (paced) go out too.
			quietFor(w.fake, 1500*time.Millisecond, deadline)
			return aps, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("the bot did not ask Eve for all %d approvals within the setup time", n)
}

// quietFor waits until the fake has seen no call for d (or until deadline).
func quietFor(f *slackfake.Server, d time.Duration, deadline time.Time) {
	last, since := f.CallCount(""), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < d {
		time.Sleep(100 * time.Millisecond)
		if n := f.CallCount(""); n != last {
			last, since = n, time.Now()
		}
	}
}

func (w *world) approvalsDone(aps []approval, ids []string, plan []item) bool {
	if len(aps) == 0 {
		return true
	}
	r := &result{}
	w.measureApprovals(r, aps, ids, plan, nil, w.fake.Calls(""))
	return r.notUpdated == 0 && r.noDM == 0
}

// measureApprovals finds, for each click, the first write to the clicked
// message after it (chat.update of it, or a replace_original through the
// click's response_url) and the first post of the request's outcome to the
// requester (the "finished" reply in their confirmation's thread).
func (w *world) measureApprovals(r *result, aps []approval, ids []string, plan []item, first map[string]time.Time, calls []slackfake.Call) {
	clickAt := map[int]time.Time{}
	for i, it := range plan {
		if it.kind != kindClick || ids[i] == "" {
			continue
		}
		if t, ok := first[ids[i]]; ok {
			clickAt[it.approval] = t
		} else {
			clickAt[it.approval] = time.Time{} // not yet known: any later call counts
		}
	}
	var t0 time.Time
	for j, a := range aps {
		at, ok := clickAt[j]
		if !ok {
			continue
		}
		if t0.IsZero() || (!at.IsZero() && at.Before(t0)) {
			t0 = at
		}
		r.clicked++
		var upd, dm time.Time
		finished := "request:" + a.id + ":finished:"
		for _, c := range calls {
			if c.Time.Before(at) || !c.OK() {
				continue
			}
			switch c.Method {
			case "chat.update":
				if upd.IsZero() && c.Param("channel") == a.channel && c.Param("ts") == a.ts {
					upd = c.Time
				}
			case "response_url":
				if upd.IsZero() && c.Param("channel") == a.channel && c.Param("ts") == a.ts && c.Param("replace_original") == "true" {
					upd = c.Time
				}
			case "chat.postMessage":
				if dm.IsZero() && strings.Contains(c.Param("metadata"), finished) {
					dm = c.Time
				}
			}
		}
		if upd.IsZero() {
			r.notUpdated++
		} else {
			r.updated = append(r.updated, upd.Sub(at))
		}
		if dm.IsZero() {
			r.noDM++
		} else {
			r.dm = append(r.dm, dm.Sub(at))
		}
	}
	slices.Sort(r.updated)
	slices.Sort(r.dm)
	if r.clicked == 0 {
		return
	}
	for _, c := range calls {
		if c.Time.Before(t0) {
			continue
		}
		switch {
		case c.Method == "chat.update":
			r.chatUpdates++
		case c.Method == "chat.postMessage":
			r.chatPosts++
		case c.Method == "response_url" && c.Param("ts") != "":
			r.responseURLs++
		}
	}
}

// homesHandled reads, from accessbot's /metrics on its admin listener, how
// many app_home_opened handlers have finished (any outcome). A Home that
// did not change is not published again, so views.publish calls cannot say.
func homesHandled(ctx context.Context, admin string) (int, error) {
	return sumMetric(ctx, admin, func(line string) bool {
		return strings.HasPrefix(line, "accessbot_slack_handler_seconds_count{") && strings.Contains(line, `route="event:app_home_opened"`)
	})
}

// homesRendered reads how many Home opens rendered the view (whether or not
// it was then published): accessbot_home_opens_total, results same and
// published.
func homesRendered(ctx context.Context, admin string) (int, error) {
	return sumMetric(ctx, admin, func(line string) bool {
		return strings.HasPrefix(line, "accessbot_home_opens_total{") &&
			(strings.Contains(line, `result="same"`) || strings.Contains(line, `result="published"`))
	})
}

// homeVersionReads reads how many Home versions accessbot's store read from
// the database while it keeps them in memory
// (accessbot_home_version_reads_total{from="database"}); counted is false
// for a build without that metric.
func homeVersionReads(ctx context.Context, admin string) (n int, counted bool, err error) {
	n, err = sumMetric(ctx, admin, func(line string) bool {
		if strings.HasPrefix(line, "# HELP accessbot_home_version_reads_total") {
			counted = true
		}
		return strings.HasPrefix(line, "accessbot_home_version_reads_total{") && strings.Contains(line, `from="database"`)
	})
	return n, counted, err
}

// sumMetric adds up the samples of accessbot's /metrics whose lines match.
func sumMetric(ctx context.Context, admin string, match func(line string) bool) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read accessbot's metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read accessbot's metrics: %s %v", resp.Status, err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if !match(line) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("read accessbot's metrics: %q: %w", line, err)
		}
		n += int(v)
	}
	return n, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fetchProfile takes a CPU profile of accessbot for the run's duration from
// its admin listener's /debug/pprof/profile and returns the file it wrote.
func fetchProfile(ctx context.Context, admin string, sp spec, dir string) string {
	secs := max(int(sp.duration.Seconds()), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs), nil)
	if err != nil {
		return "error: " + err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "error: " + resp.Status
	}
	rate := fmt.Sprint(sp.rate)
	if sp.idle {
		rate = "idle"
	}
	name := filepath.Join(dir, fmt.Sprintf("cpu-%s-%s-%s-r%d.pprof", sp.target, sp.store, rate, sp.round))
	f, err := os.Create(name)
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "error: " + err.Error()
	}
	return name
}
