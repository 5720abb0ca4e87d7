package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// RunBroker runs the Broker contract. newBrokers returns two brokers that
// stand for two server nodes of one deployment (an in-process broker returns
// itself twice); it is called once per case, possibly from parallel cases.
// Topics are unique to each case.
//
// Delivery is asynchronous in a networked broker, so the cases wait for
// messages with a deadline; an unsubscribe may take a moment to reach the
// other nodes, so the cases poll for it.
func RunBroker(t *testing.T, newBrokers func(t *testing.T) (a, b p2pstreams.Broker)) {
	cases := []struct {
		name string
		run  func(*testing.T, *brokers)
	}{
		{"NobodySubscribed", testNobody},
		{"AcrossNodes", testAcross},
		{"SubscribeThenPublishAtOnce", testSubscribeThenPublish},
		{"TopicsAreSeparate", testTopicsSeparate},
		{"SeveralSubscribers", testSeveral},
		{"Unsubscribe", testUnsubscribe},
		{"InOrder", testInOrder},
		{"ConcurrentChurn", testChurn},
		{"ContextDone", testBrokerContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := newBrokers(t)
			c.run(t, &brokers{t: t, a: a, b: b, prefix: uniquePrefix(t)})
		})
	}
}

type brokers struct {
	t      *testing.T
	a, b   p2pstreams.Broker
	prefix string
}

// topic is a peer topic unique to the case, with a NUL and non-ASCII text
// as p2pstreams.PeerTopic makes them.
func (bs *brokers) topic(name string) string {
	return p2pstreams.PeerTopic(p2pstreams.SessionID(bs.prefix+"sälle *.>"), p2pstreams.PeerID(name+" 👋"))
}

// inbox collects what a subscription receives.
type inbox struct {
	mu   sync.Mutex
	msgs [][]byte
	more chan struct{} // signalled on every message
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1)} }

func (in *inbox) deliver(msg []byte) {
	in.mu.Lock()
	in.msgs = append(in.msgs, bytes.Clone(msg))
	in.mu.Unlock()
	select {
	case in.more <- struct{}{}:
	default:
	}
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// wait waits until in has n messages and returns them.
func (in *inbox) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		in.mu.Lock()
		got := append([][]byte(nil), in.msgs...)
		in.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-in.more:
		case <-timeout.C:
			t.Fatalf("received %d messages within 10s, want %d", len(got), n)
		}
	}
}

func (bs *brokers) subscribe(b p2pstreams.Broker, topic string, in *inbox) func() {
	bs.t.Helper()
	unsub, err := b.Subscribe(ctxT(bs.t), topic, in.deliver)
	if err != nil {
		bs.t.Fatalf("Subscribe: %v", err)
	}
	bs.t.Cleanup(unsub)
	return unsub
}

func (bs *brokers) publish(b p2pstreams.Broker, topic string, msg []byte) int {
	bs.t.Helper()
	n, err := b.Publish(ctxT(bs.t), topic, msg)
	if err != nil {
		bs.t.Fatalf("Publish: %v", err)
	}
	return n
}

// noMore checks that in gets nothing beyond its n messages while a message
// published later on another topic by the same publisher arrives: brokers
// keep one publisher's order, so this proves the earlier one was dropped.
func (bs *brokers) noMore(in *inbox, n int, pub p2pstreams.Broker, sub p2pstreams.Broker) {
	bs.t.Helper()
	probe := newInbox()
	topic := bs.topic(fmt.Sprintf("probe-%d", time.Now().UnixNano()))
	bs.subscribe(sub, topic, probe)
	bs.publish(pub, topic, []byte("probe"))
	probe.wait(bs.t, 1)
	if got := in.len(); got != n {
		bs.t.Fatalf("received %d messages, want %d", got, n)
	}
}

func testNobody(t *testing.T, bs *brokers) {
	for _, b := range []p2pstreams.Broker{bs.a, bs.b} {
		if n := bs.publish(b, bs.topic("nobody"), []byte("hello")); n != 0 {
			t.Fatalf("Publish to a topic nobody subscribed = %d, want 0", n)
		}
	}
}

func testAcross(t *testing.T, bs *brokers) {
	in := newInbox()
	topic := bs.topic("bob")
	bs.subscribe(bs.a, topic, in)
	// Any bytes go through unchanged: a leading control byte, NUL, UTF-8.
	msg := []byte("\x01{\"state\":\"SdpOffer\",\"x\":\"\x00ü\"}")
	if n := bs.publish(bs.b, topic, msg); n < 1 {
		t.Fatalf("Publish across nodes = %d, want at least 1", n)
	}
	if got := in.wait(t, 1); !bytes.Equal(got[0], msg) {
		t.Fatalf("received %q, want %q", got[0], msg)
	}
	if n := bs.publish(bs.a, topic, []byte("local")); n < 1 {
		t.Fatalf("Publish on the subscriber's node = %d, want at least 1", n)
	}
	in.wait(t, 2)
}

// testSubscribeThenPublish: once Subscribe returns, a publisher on another
// node reaches the subscriber (the server subscribes a joiner, then tells
// the host, whose offer follows at once).
func testSubscribeThenPublish(t *testing.T, bs *brokers) {
	for i := range 30 {
		in := newInbox()
		topic := bs.topic(fmt.Sprintf("p%d", i))
		bs.subscribe(bs.a, topic, in)
		if n := bs.publish(bs.b, topic, []byte("offer")); n < 1 {
			t.Fatalf("round %d: Publish right after Subscribe = %d, want at least 1", i, n)
		}
		in.wait(t, 1)
	}
}

func testTopicsSeparate(t *testing.T, bs *brokers) {
	bob, carol := newInbox(), newInbox()
	bs.subscribe(bs.a, bs.topic("bob"), bob)
	bs.subscribe(bs.a, bs.topic("carol"), carol)
	// The same peer id in another session is another topic.
	other := p2pstreams.PeerTopic(p2pstreams.SessionID(bs.prefix+"other"), "bob 👋")
	bs.publish(bs.b, other, []byte("x"))
	bs.publish(bs.b, bs.topic("carol"), []byte("for carol"))
	carol.wait(t, 1)
	bs.noMore(bob, 0, bs.b, bs.a)
}

func testSeveral(t *testing.T, bs *brokers) {
	topic := bs.topic("bob")
	one, two, three := newInbox(), newInbox(), newInbox()
	bs.subscribe(bs.a, topic, one)
	unsubTwo := bs.subscribe(bs.a, topic, two)
	bs.subscribe(bs.b, topic, three)
	if n := bs.publish(bs.b, topic, []byte("all")); n < 1 {
		t.Fatalf("Publish = %d, want at least 1", n)
	}
	one.wait(t, 1)
	two.wait(t, 1)
	three.wait(t, 1)
	unsubTwo()
	unsubTwo() // twice is harmless
	bs.publish(bs.b, topic, []byte("again"))
	one.wait(t, 2)
	three.wait(t, 2)
	bs.noMore(two, 1, bs.b, bs.a)
}

func testUnsubscribe(t *testing.T, bs *brokers) {
	topic := bs.topic("bob")
	in := newInbox()
	unsub := bs.subscribe(bs.a, topic, in)
	bs.publish(bs.b, topic, []byte("1"))
	in.wait(t, 1)
	unsub()
	// The last unsubscribe reaches the other nodes in a moment.
	deadline := time.Now().Add(10 * time.Second)
	for bs.publish(bs.b, topic, []byte("after")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Publish still counts a receiver 10s after the last Unsubscribe")
		}
		time.Sleep(5 * time.Millisecond)
	}
	bs.noMore(in, 1, bs.b, bs.a)
	// Subscribing again works.
	bs.subscribe(bs.a, topic, in)
	if n := bs.publish(bs.b, topic, []byte("back")); n < 1 {
		t.Fatalf("Publish after subscribing again = %d, want at least 1", n)
	}
	in.wait(t, 2)
}

func testInOrder(t *testing.T, bs *brokers) {
	topic := bs.topic("bob")
	in := newInbox()
	bs.subscribe(bs.a, topic, in)
	const n = 200
	for i := range n {
		bs.publish(bs.b, topic, fmt.Appendf(nil, "%d", i))
	}
	for i, m := range in.wait(t, n) {
		if string(m) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q: one publisher's messages arrive out of order", i, m)
		}
	}
}

// testChurn subscribes, publishes and unsubscribes on the same topics from
// many goroutines (for -race), then checks that the survivors still receive.
func testChurn(t *testing.T, bs *brokers) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				topic := bs.topic(fmt.Sprintf("t%d", i%3))
				unsub, err := bs.a.Subscribe(ctxT(t), topic, func([]byte) {})
				if err != nil {
					t.Errorf("Subscribe: %v", err)
					return
				}
				if _, err := bs.b.Publish(ctxT(t), topic, fmt.Appendf(nil, "%d/%d", g, i)); err != nil {
					t.Errorf("Publish: %v", err)
				}
				unsub()
			}
		})
	}
	wg.Wait()
	for i := range 3 {
		in := newInbox()
		topic := bs.topic(fmt.Sprintf("t%d", i))
		bs.subscribe(bs.a, topic, in)
		if n := bs.publish(bs.b, topic, []byte("last")); n < 1 {
			t.Fatalf("Publish after the churn = %d, want at least 1", n)
		}
		in.wait(t, 1)
	}
}

func testBrokerContext(t *testing.T, bs *brokers) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	topic := bs.topic("bob")
	if _, err := bs.a.Subscribe(ctx, topic, func([]byte) { t.Error("delivered to a refused subscription") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with a done context = %v, want context.Canceled", err)
	}
	if _, err := bs.b.Publish(ctx, topic, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a done context = %v, want context.Canceled", err)
	}
	if n := bs.publish(bs.b, topic, []byte("x")); n != 0 {
		t.Fatalf("the refused Subscribe subscribed: Publish = %d", n)
	}
}
