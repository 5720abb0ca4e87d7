package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2pstreams/p2pstreams"
)

// SignatureHeader carries a webhook body's signature: "sha256=" and the
// hex HMAC-SHA256 of the body under --webhook-secret.
const SignatureHeader = "X-P2pstreams-Signature"

// webhook posts every server event to a URL as JSON, signed, one at a time
// and in order, retrying with backoff. It never blocks the server: events
// wait in a bounded queue, and what does not fit is dropped and counted.
type webhook struct {
	url     string
	secret  []byte
	client  *http.Client
	log     *slog.Logger
	q       chan p2pstreams.Event
	done    chan struct{}
	retries int           // attempts after the first
	backoff time.Duration // before the first retry; doubles, at most 10 s

	stop func() // set by startWebhook

	node            string // random, with seq: ids that let a receiver drop a retried duplicate
	seq             atomic.Int64
	dropped, failed atomic.Int64
}

// webhookBody is what the webhook posts.
type webhookBody struct {
	ID    string           `json:"id"`
	Event p2pstreams.Event `json:"event"`
}

func newWebhook(url string, secret []byte, queue int, log *slog.Logger) *webhook {
	b := make([]byte, 6)
	crand.Read(b)
	return &webhook{
		url: url, secret: secret, log: log, client: &http.Client{Timeout: 5 * time.Second},
		q: make(chan p2pstreams.Event, queue), done: make(chan struct{}),
		retries: 5, backoff: 250 * time.Millisecond, node: hex.EncodeToString(b),
	}
}

// onEvent is the server's Options.OnEvent.
func (w *webhook) onEvent(e p2pstreams.Event) {
	select {
	case w.q <- e:
	default:
		if w.dropped.Add(1) == 1 {
			w.log.Warn("webhook queue full: dropping events (counted in p2pstreams_webhook_dropped_total)", "url", redactURL(w.url))
		}
	}
}

// run delivers queued events until close; then it delivers what is left
// until ctx ends.
func (w *webhook) run(ctx context.Context) {
	defer close(w.done)
	for e := range w.q {
		w.deliver(ctx, e)
	}
}

// close stops taking events and waits for run to deliver what is queued.
func (w *webhook) close() {
	close(w.q)
	<-w.done
}

func (w *webhook) deliver(ctx context.Context, e p2pstreams.Event) {
	body, _ := json.Marshal(webhookBody{ID: fmt.Sprintf("%s-%d", w.node, w.seq.Add(1)), Event: e})
	mac := hmac.New(sha256.New, w.secret)
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	wait := w.backoff
	for attempt := 0; ; attempt++ {
		err := w.post(ctx, body, sig)
		if err == nil {
			return
		}
		if attempt == w.retries || ctx.Err() != nil {
			w.failed.Add(1)
			w.log.Warn("webhook failed", "type", e.Type, "session", e.Session, "peer", e.Peer, "attempts", attempt+1, "err", err)
			return
		}
		// Jittered, so that nodes retrying one endpoint spread out.
		select {
		case <-time.After(wait/2 + rand.N(wait)):
		case <-ctx.Done():
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func (w *webhook) post(ctx context.Context, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// collectors are the webhook's counters for /metrics.
func (w *webhook) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "p2pstreams_webhook_dropped_total", Help: "Server events not sent to the webhook because its queue was full.",
		}, func() float64 { return float64(w.dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "p2pstreams_webhook_failed_total", Help: "Server events the webhook gave up on after its retries.",
		}, func() float64 { return float64(w.failed.Load()) }),
	}
}

// startWebhook starts the webhook of c's settings; stop delivers what is
// queued (for at most 5 s) and ends it. Call stop after the server's
// Shutdown, which hands over the last events.
func startWebhook(c serveConfig, log *slog.Logger) (*webhook, error) {
	u, err := url.Parse(c.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("serve: --webhook-url %q is not an http:// or https:// URL", redactURL(c.WebhookURL))
	}
	if len(c.WebhookSecret) < 16 {
		return nil, errors.New("serve: --webhook-url needs --webhook-secret (P2PSTREAMS_WEBHOOK_SECRET), at least 16 bytes, to sign the bodies")
	}
	w := newWebhook(c.WebhookURL, []byte(c.WebhookSecret), c.WebhookQueue, log)
	ctx, cancel := context.WithCancel(context.Background())
	go w.run(ctx)
	w.stop = func() {
		t := time.AfterFunc(5*time.Second, cancel)
		w.close()
		t.Stop()
		cancel()
	}
	return w, nil
}
