package p2pstreams

import "testing"

// prune keeps the in-memory removals and ended sessions under their bound:
// every expired entry goes, and others while the bound is still reached.
func TestPruneMakesRoom(t *testing.T) {
	m := map[int]bool{} // value: expired
	for i := range maxRemembered {
		m[i] = i%10 == 0
	}
	prune(m, func(expired bool) bool { return expired })
	if len(m) >= maxRemembered {
		t.Fatalf("%d entries after prune, want fewer than %d", len(m), maxRemembered)
	}
	for k, expired := range m {
		if expired {
			t.Fatalf("expired entry %d kept", k)
		}
	}
	small := map[int]bool{1: true}
	prune(small, func(expired bool) bool { return expired })
	if len(small) != 1 {
		t.Fatal("prune removed from a map under the bound")
	}
}
