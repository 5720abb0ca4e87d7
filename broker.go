package p2pstreams

import "context"

// Broker delivers messages to peers wherever they are connected. A node
// subscribes a topic for each peer it serves; any node publishes to it.
type Broker interface {
	// Subscribe calls deliver with every message published to topic until
	// unsubscribe is called. deliver must not block and must not keep msg
	// past its return unless it treats it as read-only: the same msg may be
	// handed to several subscribers.
	Subscribe(ctx context.Context, topic string, deliver func(msg []byte)) (unsubscribe func(), err error)
	// Publish sends msg to every subscriber of topic and returns how many
	// there were (0: nobody is connected on that topic). The caller must
	// not modify msg afterwards.
	Publish(ctx context.Context, topic string, msg []byte) (delivered int, err error)
}

// PeerTopic is the broker topic of peer p in session s. Ids hold no control
// characters, so the NUL separator cannot be forged.
func PeerTopic(s SessionID, p PeerID) string {
	return string(s) + "\x00" + string(p)
}
