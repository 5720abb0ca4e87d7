package p2pstreams_test

import (
	"testing"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) p2pstreams.Store { return p2pstreams.NewMemoryStore() })
}

func TestMemoryBrokerContract(t *testing.T) {
	storetest.RunBroker(t, func(*testing.T) (a, b p2pstreams.Broker) {
		br := p2pstreams.NewMemoryBroker()
		return br, br
	})
}
