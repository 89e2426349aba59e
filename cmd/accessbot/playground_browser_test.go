package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/testenv"
)

// updateScreenshot rewrites docs/playground.png from the browser test:
//
//	go test ./cmd/accessbot -run TestPlaygroundInBrowser -update-screenshot
var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/playground.png from TestPlaygroundInBrowser")

// browserBudget bounds the whole browser story, stepTimeout each action.
const (
	browserBudget = 100 * time.Second
	stepTimeout   = 20 * time.Second
)

// browser is a headless Chromium tab on the playground page.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string // console errors, exceptions, failed loads
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := testenv.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserBudget)
	t.Cleanup(cancel)
	// Flags that work in a container without a display, GPU or network.
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: tab, base: base}
	// Listen starts the browser; the events of the first page load follow.
	if err := chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := ""
			if d.Exception != nil {
				desc = d.Exception.Description
			}
			b.problem("exception: %s %s (%s:%d)", d.Text, desc, d.URL, d.LineNumber+1)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.problem("%s error: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			// Block Kit confirm dialogs are window.confirm: accept them.
			go func() {
				_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the log domain: %v", err)
	}
	b.run("viewport", chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// run runs actions; on failure it reports what the page showed.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
	b.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
}

// eval runs JavaScript in the page and returns its value.
func eval[T any](b *browser, what, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// js runs JavaScript in the page for its effect.
func js(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }

// waitFor polls the page until js is true.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	b.run("wait for "+what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout-time.Second)))
}

// waitText waits until the element sel shows text.
func (b *browser) waitText(sel, text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`(() => { const n = document.querySelector(%q); return !!n && !n.closest('[hidden]') && n.innerText.includes(%q); })()`, sel, text))
}

// click clicks, with the mouse, the last visible button in scope labelled text.
func (b *browser) click(scope, text string) {
	b.t.Helper()
	xp := chromedp.Search(fmt.Sprintf(`(//*[@id=%q]//button[normalize-space()=%q][not(ancestor::*[@hidden])])[last()]`, scope, text))
	what := fmt.Sprintf("click %q in #%s", text, scope)
	// A live update may re-render the panel between finding the button
	// and clicking it; a person would click the new button, so look again.
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		err := chromedp.Do(ctx, chromedp.Click(xp, chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Could not find node with given id") {
			b.fail(what, err)
		}
	}
}

// tab opens the tab labelled label (its own text: an unread count may follow).
func (b *browser) tab(label string) {
	b.t.Helper()
	xp := chromedp.Search(fmt.Sprintf(`//*[@id="tabs"]/button[normalize-space(text()[1])=%q]`, label))
	b.run("open the tab "+label, chromedp.Click(xp, chromedp.NodeVisible))
}

// be switches user with the "You are" select, from the keyboard.
func (b *browser) be(user string) {
	b.t.Helper()
	b.run("be "+user, chromedp.Focus(chromedp.ID("who")), chromedp.SetValue(chromedp.ID("who"), user),
		js(`document.getElementById('who').dispatchEvent(new Event('change'))`))
	b.waitFor("the page as "+user, fmt.Sprintf(`location.hash === '#%s' && document.getElementById('status').textContent.startsWith('Live')`, user))
}

// command types a slash command in the composer and presses Enter.
func (b *browser) command(text string) {
	b.t.Helper()
	b.run("type "+text, js(`document.getElementById('command').value = ''`), chromedp.SendKeys(chromedp.ID("command"), text+kb.Enter))
}

// modalOpen waits for the modal titled title, with focus inside it.
func (b *browser) modalOpen(title string) {
	b.t.Helper()
	b.waitText("#modal-title", title)
	b.waitFor("focus in the modal", `document.getElementById('modal').contains(document.activeElement)`)
}

func (b *browser) modalClosed() {
	b.t.Helper()
	b.waitFor("the modal to close", `document.getElementById('modal-backdrop').hidden`)
}

// field is the DOM id the page gives a modal input element.
func field(block, action string) string { return "#f-modal-" + block + "-" + action }

// request asks, as the current user, for entitlement of app through the
// request modal, using the keyboard for the type-ahead.
func (b *browser) request(app, entitlement, why string) {
	b.t.Helper()
	b.command("/access request")
	b.modalOpen("Request access")
	appField := field(views.BlockReqApp, views.ActionReqApp)
	b.run("type the application", chromedp.SendKeys(chromedp.CSS(appField), app))
	b.waitFor("only "+app+" to match", fmt.Sprintf(`(() => { const m = document.querySelector(%q); const bs = m ? m.querySelectorAll('button') : []; return !m.hidden && bs.length === 1 && bs[0].innerText.includes(%q); })()`, appField+"-menu", app))
	b.run("pick it from the keyboard", chromedp.SendKeys(chromedp.CSS(appField), kb.ArrowDown),
		chromedp.Poll[chromedp.Void](`document.activeElement.closest('.menu') !== null`, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.KeyEvent(kb.Enter))
	ent := field(views.BlockReqEntitlement, views.ActionReqEntitlement)
	b.waitFor("the entitlements of "+app, fmt.Sprintf(`!!document.querySelector(%q) && Array.from(document.querySelector(%q).options).some(o => o.text.startsWith(%q))`, ent, ent, entitlement))
	b.run("choose "+entitlement, js(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = Array.from(s.options).find(o => o.text.startsWith(%q)).value; s.dispatchEvent(new Event('change')); })()`, ent, entitlement)))
	dur := field(views.BlockReqDuration, views.ActionReqDuration)
	b.run("choose a duration", js(fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (s && !s.value) { s.selectedIndex = 1; s.dispatchEvent(new Event('change')); } })()`, dur)))
	b.run("justify", chromedp.SendKeys(chromedp.CSS(field(views.BlockReqJustification, views.ActionReqJustification)), why))
	b.submit()
}

// submit presses the modal's primary button (Preview, then Submit on the
// page that follows, then Done on the result) until the modal closes.
func (b *browser) submit() {
	b.t.Helper()
	for range 4 {
		before := eval[string](b, "read the modal", `document.getElementById('modal').innerText`)
		btn := "#modal .mfoot .btn.primary"
		if !eval[bool](b, "find the primary button", `!!document.querySelector('`+btn+`')`) {
			btn = "#modal .mfoot .btn" // a result page: Done closes it
		}
		b.run("press "+btn, chromedp.Click(chromedp.CSS(btn), chromedp.NodeVisible))
		b.waitFor("the modal to change", fmt.Sprintf(`document.getElementById('modal-backdrop').hidden || document.getElementById('modal').innerText !== %q`, before))
		if eval[bool](b, "is the modal closed", `document.getElementById('modal-backdrop').hidden`) {
			return
		}
	}
	b.fail("submit", fmt.Errorf("the modal is still open after four presses"))
}

// TestPlaygroundInBrowser drives the playground page in headless Chromium
// through the story a visitor follows: a request approved and one denied,
// the Home tab, a review, a digest action, a grant whose chain runs (its
// webhooks in the receiver panel, the manual step, its end), the clock;
// with checks that fields are labelled, text is readable and the console
// stays clean. With
// -update-screenshot it writes docs/playground.png.
func TestPlaygroundInBrowser(t *testing.T) {
	t.Parallel()
	testenv.Chromium(t) // skip or fail before starting anything
	c, _ := startPlayground(t)
	b := newBrowser(t, c.base)
	const (
		sofia  = "USOFIAROSSI"
		james  = "UJAMESOKAFOR" // GitLab's primary owner, Sofia's manager
		aisha  = "UAISHABELLO"
		carlos = "UCARLOSMENDE" // Salesforce's primary owner
		omar   = "UOMARHADDAD"  // an admin
	)
	b.run("open the page", chromedp.Navigate(c.base+"/#"+sofia))
	b.waitFor("the page to go live", `document.getElementById('status').textContent.startsWith('Live')`)
	b.checkLabels("the page")
	// The story is one sequence: a failed step ends it.
	step := func(name string, fn func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
		b.t = t
	}

	step("request, approve, outcome", func(t *testing.T) {
		b.request("GitLab", "platform-developers", "I join the platform team on Monday.")
		b.waitText("#messages", "platform-developers")
		b.be(james)
		b.waitText("#messages", "Sofia Rossi")
		b.click("messages", "Approve")
		b.be(sofia)
		b.waitText("#messages", "approved")
	})

	step("deny", func(t *testing.T) {
		b.be(aisha)
		b.request("Salesforce", "Report Export", "Quarterly numbers.")
		b.be(carlos)
		b.waitText("#messages", "Aisha Bello")
		b.click("messages", "Deny")
		b.modalOpen("Deny request")
		b.checkLabels("the deny modal")
		b.run("give a reason", chromedp.SendKeys(chromedp.CSS(field(views.BlockDenyReason, views.ActionDenyReason)), "Not needed for your role."))
		b.click("modal", "Deny")
		b.modalClosed()
		b.be(aisha)
		b.waitText("#messages", "Not needed for your role.")
	})

	step("home tab", func(t *testing.T) {
		b.tab("Home")
		b.waitText("#home", "Acme Analytics")
		b.tab("Messages")
	})

	step("review", func(t *testing.T) {
		b.be(james)
		b.waitText("#messages", "Playground privileged access review")
		b.click("messages", "Review now")
		b.modalOpen("Access review")
		b.checkLabels("the review modal")
		b.checkContrast("the review modal")
		// Keep the first item, revoke the second, from the keyboard: the
		// radio buttons are reached with Tab and chosen with Space.
		b.run("decide", js(`(() => {
			const groups = Array.from(document.querySelectorAll('#modal [role=radiogroup]'));
			groups.forEach((g, i) => { const r = g.querySelectorAll('input')[i === 0 ? 0 : 1]; r.focus(); r.click(); });
			return groups.length; })()`))
		b.click("modal", "Submit page")
		b.waitText("#modal", "Saved: 1 kept, 1 revoked.")
		b.run("close", chromedp.KeyEvent(kb.Escape))
		b.modalClosed()
	})

	step("digest action in #access-alerts", func(t *testing.T) {
		b.be(omar) // an admin: findings are changed by admins and application owners
		b.tab("#access-alerts")
		b.waitText("#channel", "Findings digest")
		b.waitText("#channel", "Critical finding")
		b.click("channel", "Acknowledge")
		b.waitText("#channel", "Omar Haddad")
	})

	step("switching user takes the modal away", func(t *testing.T) {
		b.be(sofia)
		b.command("/access request")
		b.modalOpen("Request access")
		b.run("focus stays in the modal", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
		b.waitFor("focus in the modal after tabbing", `document.getElementById('modal').contains(document.activeElement)`)
		// The page behind cannot be reached; the URL switches user.
		b.run("be James by URL", js(`location.hash = '#`+james+`'`))
		b.modalClosed()
		b.waitText("#messages", "Playground privileged access review") // James's DM, not Sofia's
		// Back as Sofia, her modal is there again and Escape closes it for real.
		b.run("be Sofia by URL", js(`location.hash = '#`+sofia+`'`))
		b.modalOpen("Request access")
		// Focus is in the type-ahead, whose matches are open: the first
		// Escape closes them, the second the modal.
		b.waitFor("the matches", `!!document.querySelector('#modal .menu:not([hidden])')`)
		b.run("escape the matches", chromedp.KeyEvent(kb.Escape))
		b.waitFor("the matches to close", `!document.querySelector('#modal .menu:not([hidden])') && !document.getElementById('modal-backdrop').hidden`)
		b.run("escape the modal", chromedp.KeyEvent(kb.Escape))
		b.modalClosed()
		if views := c.waitState(sofia, "no modal", func(s pgState) bool { return s.Modal == nil }); views.Modal != nil {
			t.Fatal("the modal is still open in Slack")
		}
	})

	step("a grant that acts", func(t *testing.T) {
		// The example's Slack chain: a webhook to the page's receiver, a
		// manual step for the owners; 3 minutes, then the revoke webhook.
		b.be(sofia)
		b.request("Slack", "@oncall", "On call this afternoon.")
		b.be(james)
		b.waitText("#messages", "On call this afternoon.")
		b.click("messages", "Approve")
		b.waitText("#webhooks-list", "playground.grant")
		b.waitText("#webhooks-list", "sofia.rossi@acme.com")
		b.be(omar) // Slack's primary owner
		b.waitText("#messages", "Add Sofia Rossi to @oncall in Slack")
		b.click("messages", "Done")
		b.be(sofia)
		b.waitText("#messages", "Granting Slack / @oncall: done")
		b.waitText("#messages", "done by Omar Haddad")
		b.click("clock", "+1 hour")
		b.waitText("#webhooks-list", "playground.revoke")
		b.waitText("#messages", "Removing Slack / @oncall: done")
	})

	step("clock", func(t *testing.T) {
		// A request nobody answers: a day on, the approver is reminded; a
		// week on, it expires.
		b.be(sofia)
		b.request("GitLab", "product-developers", "To help the web team this sprint.")
		// Move the clock only once James has been asked: a reminder that
		// overtakes the approval DM (a day passing in a second) is posted as
		// a new card rather than in the DM's thread.
		b.be(james)
		b.waitText("#messages", "To help the web team this sprint.")
		b.be(sofia)
		b.click("clock", "+1 day")
		b.waitFor("the clock to move", `document.getElementById('clock-now').textContent.includes('ahead')`)
		b.be(james)
		b.waitText("#messages", "still waits for you")
		b.click("clock", "+1 week")
		b.be(sofia)
		b.waitText("#messages", "Expired")
		b.tab("#access-alerts")
		b.waitText("#channel", "Findings digest")
		// Count what Slack holds (the page may not have drawn it all yet).
		n := len(c.with(t).waitState(sofia, "the channel", func(pgState) bool { return true }).channel("access-alerts"))
		b.click("clock", "Send the findings digest now")
		b.waitFor("a new digest", fmt.Sprintf(`document.querySelectorAll('#channel .msg').length > %d`, n))
	})

	b.t = t
	b.checkContrast("the page")
	if *updateScreenshot {
		b.screenshot(filepath.Join("..", "..", "docs", "playground.png"))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		t.Fatalf("the page reported %d problem(s):\n%s", len(b.problems), strings.Join(b.problems, "\n"))
	}
}

// checkLabels fails when a visible form control has no accessible name.
func (b *browser) checkLabels(where string) {
	b.t.Helper()
	unlabelled := eval[[]string](b, "check labels", `Array.from(document.querySelectorAll('input, select, textarea'))
		.filter(n => n.type !== 'hidden' && n.offsetParent !== null && !n.closest('[inert]'))
		.filter(n => !(n.labels && n.labels.length) && !n.getAttribute('aria-label') && !n.getAttribute('aria-labelledby')
			&& !(n.type === 'radio' || n.type === 'checkbox') )
		.map(n => n.outerHTML.slice(0, 120))`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label:\n%s", where, strings.Join(unlabelled, "\n"))
	}
}

// checkContrast fails when visible text has a contrast under 4.5:1 (3:1
// for large text) against its background, by WCAG's formula.
func (b *browser) checkContrast(where string) {
	b.t.Helper()
	low := eval[[]string](b, "check contrast", contrastJS)
	if len(low) > 0 {
		b.t.Errorf("%s: text under the contrast minimum:\n%s", where, strings.Join(low, "\n"))
	}
}

// contrastJS lists "ratio color/background text" for every element with
// its own visible text whose contrast is too low. Backgrounds are found by
// walking up to the first opaque one; disabled controls are exempt.
const contrastJS = `(() => {
  const rgb = (s) => { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const mix = (top, bot) => ({ r: top.r * top.a + bot.r * (1 - top.a), g: top.g * top.a + bot.g * (1 - top.a), b: top.b * top.a + bot.b * (1 - top.a), a: 1 });
  const bg = (n) => {
    const layers = [];
    for (let e = n; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let out = { r: 255, g: 255, b: 255, a: 1 };
    for (let i = layers.length - 1; i >= 0; i--) out = mix(layers[i], out);
    return out;
  };
  const out = [];
  for (const n of document.querySelectorAll('body *')) {
    if (n.closest('[hidden], [inert], option, script, style') || n.offsetParent === null && getComputedStyle(n).position !== 'fixed') continue;
    if (n.disabled || n.closest(':disabled')) continue;
    const own = Array.from(n.childNodes).filter((k) => k.nodeType === 3).map((k) => k.textContent.trim()).join('');
    if (!own) continue;
    const st = getComputedStyle(n);
    let fg = rgb(st.color);
    let opacity = 1;
    for (let e = n; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const back = bg(n);
    fg = mix({ ...fg, a: fg.a * opacity }, back);
    const [hi, lo] = [lum(fg), lum(back)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push(ratio.toFixed(2) + ' ' + st.color + ' on ' + JSON.stringify(back) + ': ' + own.slice(0, 60));
  }
  return out;
})()`

// screenshot shows #access-alerts as James and writes the viewport to path.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	b.be("UJAMESOKAFOR")
	b.tab("#access-alerts")
	b.waitText("#channel", "Findings digest")
	b.run("scroll to the first digest", js(`document.getElementById('channel').scrollTop = 0`))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", path, len(png))
}
