package peer_test

import (
	"fmt"
	"testing"
)

// The named successor hosts after every host change: 20 times in a row,
// with two clients racing back (without a successor, each would win about
// half the time: see TestNoSuccessorOneHost).
func TestSuccessorEveryTime(t *testing.T) {
	if testing.Short() {
		t.Skip("20 host changes")
	}
	c := newConfRunWith(t, "go", "go", nil, 0)
	for i := range 20 {
		c.room = fmt.Sprintf("succ-%d", i)
		confSuccessor(c)
		if t.Failed() {
			t.Fatalf("round %d of 20", i+1)
		}
		closeAll(c)
	}
}

// Without successors (the server keeps none), a host change still makes
// exactly one host: the first client back.
func TestNoSuccessorOneHost(t *testing.T) {
	if testing.Short() {
		t.Skip("5 host changes")
	}
	c := newConfRunWith(t, "go", "go", nil, -1)
	firsts := 0
	for i := range 5 {
		c.room = fmt.Sprintf("nosucc-%d", i)
		h, cs := c.hostAndClients(2, opts{})
		h.Go()
		c.wait("a new host", func() bool { return cs[0].IsHost() || cs[1].IsHost() })
		c.allConnected(cs...)
		if cs[0].IsHost() == cs[1].IsHost() {
			t.Fatalf("round %d: c1 host %v, c2 host %v: want exactly one", i+1, cs[0].IsHost(), cs[1].IsHost())
		}
		if cs[0].IsHost() {
			firsts++
		}
		closeAll(c)
	}
	t.Logf("without a successor, c1 hosted %d times of 5", firsts)
}

// closeAll closes every Go peer of the run so far (they are closed again,
// harmlessly, when the test ends).
func closeAll(c *confRun) {
	for _, g := range c.goMembers {
		g.Go()
	}
	c.goMembers = nil
}
