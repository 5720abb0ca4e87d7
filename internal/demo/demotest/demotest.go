// Package demotest drives the demo chat's room page in a browser test, as a
// person would: type a message, press Send, read the chat lines.
package demotest

import (
	"encoding/json"
	"fmt"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

// Say types text into the page's message box and clicks Send, once the box
// is enabled (the peer is connected).
func Say(p *browsertest.Page, text string) {
	p.WaitTrue(`!document.querySelector('input[placeholder="message"]').disabled`, "an enabled message box")
	p.Do(
		chromedp.SendKeys(chromedp.CSS(`input[placeholder="message"]`), text),
		chromedp.Click(chromedp.CSS(`#send button`)),
	)
}

// Lines returns the chat lines the page shows, in order.
func Lines(p *browsertest.Page) []string {
	var out []string
	p.Eval(`[...document.querySelectorAll("#lines > div")].map(d => d.textContent)`, &out)
	return out
}

// WaitLine waits until the page shows the chat line.
func WaitLine(p *browsertest.Page, line string) {
	q, _ := json.Marshal(line)
	p.WaitTrue(fmt.Sprintf(`[...document.querySelectorAll("#lines > div")].some(d => d.textContent === %s)`, q), fmt.Sprintf("chat line %q", line))
}
