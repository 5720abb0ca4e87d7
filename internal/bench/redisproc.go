package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// redisProc is a redis-server this package started on a free loopback port,
// for the hop scenario; it is stopped by its own handle.
type redisProc struct {
	addr string
	cmd  *exec.Cmd
	dir  string // its working directory, removed after it stops
	done chan error
}

// startRedis starts redis-server (from PATH) with no persistence on a free
// port of 127.0.0.1 and waits until it accepts connections.
func startRedis(ctx context.Context) (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("bench: hop needs redis-server on PATH, or -redis HOST:PORT of a Redis to use")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "p2pstreams-bench-redis-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start redis-server: %w", err)
	}
	p := &redisProc{addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, dir: dir, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("bench: redis-server did not listen on %s: %v", p.addr, err)
		}
		select {
		case err := <-p.done:
			os.RemoveAll(p.dir)
			return nil, fmt.Errorf("bench: redis-server exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the redis-server: SIGTERM, then a kill after 5 s.
func (p *redisProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	os.RemoveAll(p.dir)
}
