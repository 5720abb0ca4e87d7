package p2predis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/redis/go-redis/v9"
)

// ErrClosed is returned by a Broker's methods after Close.
var ErrClosed = errors.New("p2predis: broker closed")

// Broker is a p2pstreams.Broker on Redis pub/sub. Each topic is a channel
// (prefix + topic; channel names are binary-safe, so the NUL of
// p2pstreams.PeerTopic needs no escaping). A node holds one pub/sub
// connection and subscribes only the channels of the peers it serves, so a
// message crosses the network only to the node that needs it.
//
// Publish returns PUBLISH's receiver count: the number of nodes subscribed to
// the topic (one when the peer is connected somewhere, since a peer is
// connected once), not the number of local callbacks. Zero means that no node
// serves the peer.
//
// When Redis goes away the connection is redialed and every channel is
// subscribed again (go-redis does this; messages published meanwhile are
// lost, as they would be for a peer whose connection dropped). Subscribe
// waits until Redis confirms the subscription, so that a message published
// after Subscribe returns is not missed.
type Broker struct {
	rdb    redis.UniversalClient
	ps     *redis.PubSub
	prefix string

	// lock serializes the SUBSCRIBE and UNSUBSCRIBE commands with the
	// changes to topics that they follow, so that Redis sees them in the
	// same order (a channel semaphore, so waiting for it respects ctx).
	lock chan struct{}

	mu      sync.RWMutex
	topics  map[string]*topic          // by channel name
	pending map[string][]chan struct{} // by channel: subscribe confirmations awaited, oldest first

	closed    chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed when the dispatcher has returned
}

// topic is one subscribed channel. subs is copied on write, so the
// dispatcher ranges over it without the lock.
type topic struct {
	subs  []*sub
	ready chan struct{} // closed once Redis confirmed the SUBSCRIBE
}

type sub struct{ deliver func([]byte) }

var _ p2pstreams.Broker = (*Broker)(nil)

// NewBroker returns a Broker on rdb (a *redis.Client, or a
// *redis.ClusterClient, whose PUBLISH reaches every node of the cluster). It
// starts one goroutine, which Close stops. The caller keeps rdb and closes
// it after the Broker.
func NewBroker(rdb redis.UniversalClient, o *Options) *Broker {
	b := &Broker{
		rdb:     rdb,
		ps:      rdb.Subscribe(context.Background()),
		prefix:  o.prefix(),
		lock:    make(chan struct{}, 1),
		topics:  make(map[string]*topic),
		pending: make(map[string][]chan struct{}),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	// The health check is how go-redis notices that Redis went away and
	// reconnects (resubscribing every channel); until then this node's
	// peers receive nothing, so check every second rather than every 3 s.
	go b.dispatch(b.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024), redis.WithChannelHealthCheckInterval(time.Second)))
	return b
}

// dispatch hands every message to the topic's subscribers and releases the
// Subscribe calls waiting for a confirmation. The deliver callbacks do not
// block (the Broker contract), so one loop serves every topic.
func (b *Broker) dispatch(in <-chan any) {
	defer close(b.done)
	for m := range in {
		switch m := m.(type) {
		case *redis.Message:
			b.mu.RLock()
			tp := b.topics[m.Channel]
			var subs []*sub
			if tp != nil {
				subs = tp.subs
			}
			b.mu.RUnlock()
			if len(subs) == 0 {
				continue
			}
			msg := []byte(m.Payload)
			for _, s := range subs {
				s.deliver(msg)
			}
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		}
	}
}

// confirmed releases the oldest Subscribe waiting for channel. Redis confirms
// the SUBSCRIBEs of one connection in order; after a reconnect, go-redis
// subscribes every channel again, which releases a waiter whose own command
// was lost with the old connection, and rightly so.
func (b *Broker) confirmed(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.pending[channel]
	if len(q) == 0 {
		return
	}
	close(q[0])
	if len(q) == 1 {
		delete(b.pending, channel)
	} else {
		b.pending[channel] = q[1:]
	}
}

// Subscribe implements p2pstreams.Broker. It returns once Redis confirmed
// the subscription, or with an error when ctx ends first (Redis is down: the
// subscription is then withdrawn).
func (b *Broker) Subscribe(ctx context.Context, tp string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	channel := b.prefix + tp
	s := &sub{deliver: deliver}
	select {
	case b.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.closed:
		return nil, ErrClosed
	}
	b.mu.Lock()
	t := b.topics[channel]
	first := t == nil
	if first {
		t = &topic{ready: make(chan struct{})}
		b.topics[channel] = t
		b.pending[channel] = append(b.pending[channel], t.ready)
	}
	t.subs = append(slices.Clip(t.subs), s)
	b.mu.Unlock()
	var werr error
	if first {
		// go-redis keeps the channel even when the write fails (Redis is
		// down) and subscribes it when it reconnects: so wait either way.
		werr = b.ps.Subscribe(ctx, channel)
	}
	<-b.lock

	var err error
	select {
	case <-t.ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-b.closed:
		err = ErrClosed
	}
	if err != nil {
		b.unsubscribe(channel, s)
		if werr != nil {
			return nil, fmt.Errorf("p2predis: subscribe: %w (%v)", err, werr)
		}
		return nil, fmt.Errorf("p2predis: subscribe: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { b.unsubscribe(channel, s) }) }, nil
}

// unsubscribe removes s from channel, and the channel from Redis when s was
// its last subscriber.
func (b *Broker) unsubscribe(channel string, s *sub) {
	b.lock <- struct{}{}
	defer func() { <-b.lock }()
	b.mu.Lock()
	t := b.topics[channel]
	if t == nil {
		b.mu.Unlock()
		return
	}
	t.subs = slices.DeleteFunc(slices.Clone(t.subs), func(x *sub) bool { return x == s })
	last := len(t.subs) == 0
	if last {
		delete(b.topics, channel)
		// A confirmation that never came must not release a later
		// Subscribe of the same channel: drop its place in the queue. (Its
		// SUBSCRIBE may still be confirmed and release the next one early;
		// that needs Redis to fail mid-subscribe, and costs at most a
		// message published before the channel is subscribed.)
		select {
		case <-t.ready:
		default:
			b.pending[channel] = slices.DeleteFunc(b.pending[channel], func(c chan struct{}) bool { return c == t.ready })
			if len(b.pending[channel]) == 0 {
				delete(b.pending, channel)
			}
		}
	}
	b.mu.Unlock()
	if last {
		// go-redis forgets the channel before it writes, so a failed write
		// (Redis down) leaves it out of the next connection anyway.
		_ = b.ps.Unsubscribe(context.Background(), channel)
	}
}

// Publish implements p2pstreams.Broker: it returns how many nodes receive msg.
func (b *Broker) Publish(ctx context.Context, tp string, msg []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case <-b.closed:
		return 0, ErrClosed
	default:
	}
	n, err := b.rdb.Publish(ctx, b.prefix+tp, msg).Result()
	if err != nil {
		return 0, fmt.Errorf("p2predis: publish: %w", err)
	}
	return int(n), nil
}

// Close stops the Broker: its subscriptions end and its goroutine returns.
// Call it after the server using it has shut down.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.closed)
		err = b.ps.Close()
		<-b.done
	})
	return err
}
