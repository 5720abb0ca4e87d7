package testenv

import (
	"fmt"
	"net"
	"os"
)

// Browser tests need a network with loopback only: Chromium, left on a
// machine's real interfaces, gathers candidates and sends mDNS there.
// EnterLoopbackNamespace gives them one without asking the person running
// `go test` for anything: it re-executes the test binary in a new network
// namespace (in a new user namespace too where not root), brings lo up there
// and returns the child's exit code. Already in a loopback-only namespace
// (CI's `unshare --net`), or where the child cannot be made, it does
// nothing and the tests run here (browser tests then skip or fail, loudly).

// childEnv marks the re-executed test binary.
const childEnv = "P2PSTREAMS_NETNS_CHILD"

// init brings lo up in the re-executed test binary before the test
// package's own variables are initialized (they depend on this package):
// some read the interfaces once, at initialization (peertest.LoopbackAPI
// in a package-level var), and must see lo up.
func init() {
	if os.Getenv(childEnv) == "1" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: bring lo up in the test namespace: %v\n", err)
		}
	}
}

// EnterLoopbackNamespace runs this test binary again in a loopback-only
// network namespace and reports its exit code with reexeced true; the caller
// exits with that code. It returns reexeced false when the tests should run
// in this process: it is the child, the network is loopback-only already,
// there is no Chromium to protect, or P2PSTREAMS_SKIP_BROWSER=1.
func EnterLoopbackNamespace() (code int, reexeced bool) {
	if os.Getenv(childEnv) == "1" {
		return 0, false // lo came up in init
	}
	if len(NonLoopbackUp()) == 0 {
		loopbackUp() // best effort: `unshare --net` without `ip link set lo up`
		return 0, false
	}
	if SkipBrowser() || ChromiumPath() == "" {
		return 0, false
	}
	code, err := reexecInNetns()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: cannot enter a loopback-only network namespace (%v): "+
			"browser tests will skip; run: unshare --net sh -c 'ip link set lo up && exec go test ./...'\n", err)
		return 0, false
	}
	return code, true
}

// NonLoopbackUp names the network interfaces that are up and not loopback.
func NonLoopbackUp() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return []string{"(unknown: " + err.Error() + ")"}
	}
	var up []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			up = append(up, i.Name)
		}
	}
	return up
}
