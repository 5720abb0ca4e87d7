// Package p2pnats is a p2pstreams.Broker on NATS, an alternative to the
// Redis broker for deployments that run NATS already. It is a Broker only:
// sessions still need a shared Store (the Redis one).
//
//	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
//	broker, err := p2pnats.NewBroker(nc, nil)
//
// # How Publish counts receivers
//
// NATS does not say how many subscribers a message reached, and the server
// needs to know whether the target peer is connected anywhere (or it answers
// peer_not_found). So Publish is a NATS request: the node serving the topic
// hands the message to its local subscribers and replies with their number;
// when no node subscribes the topic, the NATS server answers "no responders"
// at once, and Publish returns 0. A count above 0 is the first replying
// node's local subscribers: at least one peer got the message. A node that
// gets the message but dies before replying makes Publish fail after
// Options.ReplyTimeout, which the server reports as "unavailable".
//
// The cost is one more trip through the NATS server per message than a
// plain publish. A node subscribes only the topics of the peers it serves;
// nats.go subscribes them again after a reconnect.
package p2pnats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/p2pstreams/p2pstreams"
)

// DefaultPrefix is the first token of every subject unless Options.Prefix is set.
const DefaultPrefix = "p2pstreams"

// ErrClosed is returned by a Broker's methods after Close.
var ErrClosed = errors.New("p2pnats: broker closed")

// Options configure a Broker. The zero value (or nil) is ready.
type Options struct {
	// Prefix is the first token(s) of every subject, so that several
	// deployments can share one NATS. Default DefaultPrefix.
	Prefix string
	// ReplyTimeout bounds a Publish or Subscribe whose context has no
	// deadline: the wait for the receiving node's reply, or for the NATS
	// server to confirm a subscription. Default 5s.
	ReplyTimeout time.Duration
	// QueueLen is the number of received messages buffered for delivery;
	// beyond it NATS drops messages (a slow consumer). Default 8192.
	QueueLen int
}

// Broker is a p2pstreams.Broker on a NATS connection. It is safe for
// concurrent use.
type Broker struct {
	nc      *nats.Conn
	prefix  string
	timeout time.Duration
	in      chan *nats.Msg // every subscription delivers here; one goroutine drains it

	mu     sync.RWMutex
	topics map[string]*topic // by subject

	closed    chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

// topic is one NATS subscription and its local subscribers (copied on write).
type topic struct {
	ns   *nats.Subscription
	subs []*sub
}

type sub struct{ deliver func([]byte) }

var _ p2pstreams.Broker = (*Broker)(nil)

// NewBroker returns a Broker on nc, which the caller keeps and closes after
// the Broker. Give nc nats.MaxReconnects(-1) so that it never gives up on a
// NATS server that restarts. NewBroker fails when the NATS server is too old
// to report "no responders" (before 2.2), since Publish relies on it.
func NewBroker(nc *nats.Conn, o *Options) (*Broker, error) {
	if o == nil {
		o = &Options{}
	}
	if !nc.HeadersSupported() {
		return nil, errors.New("p2pnats: the NATS server does not support headers (no-responders replies): version 2.2 or later is needed")
	}
	b := &Broker{
		nc:      nc,
		prefix:  o.Prefix,
		timeout: o.ReplyTimeout,
		in:      make(chan *nats.Msg, o.QueueLen),
		topics:  make(map[string]*topic),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	if b.timeout <= 0 {
		b.timeout = 5 * time.Second
	}
	if o.QueueLen <= 0 {
		b.in = make(chan *nats.Msg, 8192)
	}
	go b.dispatch()
	return b, nil
}

// dispatch hands each message to its topic's subscribers, which do not
// block (the Broker contract), and replies with how many there were.
func (b *Broker) dispatch() {
	defer close(b.done)
	for {
		select {
		case <-b.closed:
			return
		case m := <-b.in:
			b.mu.RLock()
			t := b.topics[m.Subject]
			var subs []*sub
			if t != nil {
				subs = t.subs
			}
			b.mu.RUnlock()
			if t != nil && t.ns != m.Sub {
				// A subscription being drained, while a newer one of the
				// same subject exists: that one delivers and replies.
				continue
			}
			for _, s := range subs {
				s.deliver(m.Data)
			}
			if m.Reply != "" {
				// 0 when the topic was just unsubscribed here: the
				// message arrived while the NATS server had our UNSUB
				// in flight, and its publisher must not wait in vain.
				_ = m.Respond(strconv.AppendInt(nil, int64(len(subs)), 10))
			}
		}
	}
}

// Subscribe implements p2pstreams.Broker. It returns once the NATS server
// has the subscription (a flush), so that a later Publish reaches it.
func (b *Broker) Subscribe(ctx context.Context, tp string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	subj := subject(b.prefix, tp)
	s := &sub{deliver: deliver}
	// The SUB and UNSUB commands are queued under b.mu, so the NATS server
	// sees them in the order of the changes to b.topics.
	b.mu.Lock()
	select {
	case <-b.closed:
		b.mu.Unlock()
		return nil, ErrClosed
	default:
	}
	t := b.topics[subj]
	if t == nil {
		ns, err := b.nc.ChanSubscribe(subj, b.in)
		if err != nil {
			b.mu.Unlock()
			return nil, fmt.Errorf("p2pnats: subscribe: %w", err)
		}
		t = &topic{ns: ns}
		b.topics[subj] = t
	}
	t.subs = append(slices.Clip(t.subs), s)
	b.mu.Unlock()
	ctx, cancel := b.bounded(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		b.unsubscribe(subj, s)
		return nil, fmt.Errorf("p2pnats: subscribe: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { b.unsubscribe(subj, s) }) }, nil
}

func (b *Broker) unsubscribe(subj string, s *sub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[subj]
	if t == nil {
		return
	}
	t.subs = slices.DeleteFunc(slices.Clone(t.subs), func(x *sub) bool { return x == s })
	if len(t.subs) == 0 {
		delete(b.topics, subj)
		// Drain rather than drop: messages that the NATS server routed
		// here before it got the UNSUB still reach dispatch, which
		// replies 0 to their publishers instead of leaving them to time
		// out. A closed connection has no subscription anyway.
		_ = t.ns.Drain()
	}
}

// Publish implements p2pstreams.Broker as a request: see the package
// documentation for what the count means.
func (b *Broker) Publish(ctx context.Context, tp string, msg []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case <-b.closed:
		return 0, ErrClosed
	default:
	}
	ctx, cancel := b.bounded(ctx)
	defer cancel()
	reply, err := b.nc.RequestWithContext(ctx, subject(b.prefix, tp), msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("p2pnats: publish: %w", err)
	}
	n, err := strconv.Atoi(string(reply.Data))
	if err != nil {
		return 0, fmt.Errorf("p2pnats: publish: bad reply %q", reply.Data)
	}
	return n, nil
}

// bounded gives ctx the Broker's timeout unless it has a deadline already
// (nats.go needs one).
func (b *Broker) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.timeout)
}

// Close ends every subscription of the Broker and stops its goroutine. Call
// it after the server using it has shut down; nc stays open.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		close(b.closed)
		for subj, t := range b.topics {
			_ = t.ns.Unsubscribe()
			delete(b.topics, subj)
		}
		b.mu.Unlock()
		<-b.done
	})
	return nil
}
