package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// kindShipped is `p2pstreams serve` as users run it: the real command in a
// child process, with its default settings (rate limit, GOMAXPROCS, GC) and
// the demo mounted beside /p2p/. Its memory is read from /proc only: no GC
// is forced before a reading, so RSS counts the garbage a real server holds.
const kindShipped = "shipped"

// servePrinted is how serve announces where it listens.
var servePrinted = regexp.MustCompile(`at http://(127\.0\.0\.1:[0-9]+)/`)

// spawnShipped starts command (the argv prefix of `p2pstreams serve`) on a
// free loopback port with the run's secret and waits until it listens.
func spawnShipped(ctx context.Context, command []string, secret []byte) (*spawned, error) {
	cmd := exec.Command(command[0], append(append([]string(nil), command[1:]...), "-addr", "127.0.0.1:0")...)
	cmd.Env = append(os.Environ(), "P2PSTREAMS_SECRET="+string(secret))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", strings.Join(command, " "), err)
	}
	s := &spawned{k: kindShipped, cmd: cmd, done: make(chan error, 1), signal: true}
	s.hello.PID = cmd.Process.Pid
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, br)
		s.done <- cmd.Wait()
	}()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case line := <-lines:
		m := servePrinted.FindStringSubmatch(line)
		if m == nil {
			s.close(context.Background())
			return nil, fmt.Errorf("bench: serve said %q", strings.TrimSpace(line))
		}
		s.hello.URL = "ws://" + m[1] + "/p2p/"
	case <-wait.Done():
		s.close(context.Background())
		return nil, fmt.Errorf("bench: serve did not start: %w", wait.Err())
	}
	return s, nil
}

// stop asks the child to end: serve on SIGTERM, a bench child when its
// stdin closes.
func (s *spawned) stop() {
	if s.signal {
		s.cmd.Process.Signal(syscall.SIGTERM)
		return
	}
	s.stdin.Close()
}

// procMem reads what /proc tells of a child without an admin endpoint.
func (s *spawned) procMem() (Mem, bool, error) {
	rss, err := readRSS(s.hello.PID)
	if err != nil {
		return Mem{}, false, err
	}
	return Mem{RSS: rss}, true, nil
}

var errNoAdmin = errors.New("bench: profiles need a bench child server, not serve")
