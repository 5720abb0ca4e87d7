package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds each wait of a Page (WaitText, WaitTrue) and each action:
// 30 s, since 20 s ran out for a shared video on a loaded CI machine.
var Timeout = 30 * time.Second

// Page is one tab in its own browser context: one user. Its methods fail the
// test on error; they must be called from the test's goroutine.
type Page struct {
	t      testing.TB
	ctx    context.Context
	cancel func()
}

// NewPage opens a blank tab for a new user. It is closed when t ends, or by Close.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &Page{t: t, ctx: ctx, cancel: cancel}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: new page: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewTab opens a blank tab beside p, in p's browser context: the same user
// (the same storage) in another tab. It is closed when t ends, or by Close.
func (p *Page) NewTab(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	tab := &Page{t: t, ctx: ctx, cancel: cancel}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: new tab: %v", err)
	}
	t.Cleanup(tab.Close)
	return tab
}

// Context is the page's chromedp context, for any chromedp action:
// chromedp.Do(p.Context(), ...), chromedp.Run(p.Context(), ...).
func (p *Page) Context() context.Context { return p.ctx }

// Close closes the tab and its browser context, as a user closing the window.
func (p *Page) Close() { p.cancel() }

// Do runs chromedp actions on the page within Timeout.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browsertest: %v", err)
	}
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.Do(chromedp.Navigate(url))
}

// Eval evaluates a JavaScript expression (promises are awaited) and decodes
// its JSON value into out (nil: ignore it).
func (p *Page) Eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browsertest: eval %s: %v", expr, err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("browsertest: eval %s: decode %s: %v", expr, raw, err)
		}
	}
}

// WaitTrue polls a JavaScript expression until it is truthy, failing the test
// with what (and the page's text) after Timeout. It keeps polling across
// navigations and reloads (an expression that throws counts as false).
func (p *Page) WaitTrue(expr, what string) {
	p.t.Helper()
	if err := p.poll(expr); err != nil {
		p.t.Fatalf("browsertest: waited %v for %s: %v\npage text:\n%s", Timeout, what, err, p.Text())
	}
}

// WaitText waits until the page's visible text contains text.
func (p *Page) WaitText(text string) {
	p.t.Helper()
	q, _ := json.Marshal(text)
	p.WaitTrue(fmt.Sprintf("document.body && document.body.innerText.includes(%s)", q), fmt.Sprintf("text %q", text))
}

func (p *Page) poll(expr string) error {
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	check := fmt.Sprintf("(() => { try { return !!(%s) } catch (e) { return false } })()", expr)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check))
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Text returns the page's visible text ("" if it cannot be read).
func (p *Page) Text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return strings.TrimSpace(s)
}
