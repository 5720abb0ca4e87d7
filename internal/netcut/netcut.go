// Package netcut breaks and restores the network paths between peers in a
// test's own loopback-only network namespace, keeping one TCP port (the
// signaling server's) reachable: the way tests take a WebRTC link down and
// bring it back, for Go peers and Chromium alike.
//
// It uses policy routing (iproute2, root in the namespace): an
// "unreachable" rule placed before the local table, so every packet but
// the kept port's TCP is refused at routing (sendto fails with
// ENETUNREACH, as on a machine that lost its network), sockets and
// interfaces untouched. (No iptables or nft here, tc has no drop action,
// taking a veth down makes Chromium drop the network and its candidates
// with it, and a "blackhole" rule's EINVAL makes Chromium close its UDP
// sockets for good: it takes only unreachable-like errors as transient.)
//
// Run the tests inside a namespace they own:
//
//	unshare --net sh -c 'ip link set lo up && exec go test ...'
package netcut

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Check returns why Cut cannot run here, or nil: it needs root, the ip
// command, and a network namespace where no interface but loopback is up
// (so that the rules can only touch the test's own namespace).
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("netcut: needs root in a network namespace of its own (unshare --net)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netcut: needs the ip command (iproute2)")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("netcut: runs only in a loopback-only network namespace (%s is up): unshare --net", i.Name)
		}
	}
	return nil
}

// Rule preferences: the kept port's TCP, then the cut, then the
// local table moved behind them (it is rule 0 by default, before any rule).
const (
	prefKeepDst = "5"
	prefKeepSrc = "6"
	prefCut     = "10"
	prefLocal   = "32765"
)

// Cut refuses every packet in this namespace except TCP to or from
// keepPort, until restore is called. Cut twice without restoring is an
// error.
func Cut(keepPort int) (restore func() error, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	port := strconv.Itoa(keepPort)
	steps := [][]string{
		{"rule", "add", "pref", prefLocal, "table", "local"},
		{"rule", "del", "pref", "0"},
		{"rule", "add", "pref", prefKeepDst, "ipproto", "tcp", "dport", port, "table", "local"},
		{"rule", "add", "pref", prefKeepSrc, "ipproto", "tcp", "sport", port, "table", "local"},
		{"rule", "add", "pref", prefCut, "unreachable"},
	}
	undo := [][]string{
		{"rule", "del", "pref", prefCut},
		{"rule", "del", "pref", prefKeepSrc},
		{"rule", "del", "pref", prefKeepDst},
		{"rule", "add", "pref", "0", "table", "local"},
		{"rule", "del", "pref", prefLocal},
	}
	restore = func() error {
		var errs []error
		for _, s := range undo {
			if err := ip(s...); err != nil && !strings.Contains(err.Error(), "No such file") {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netcut: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
