package ordercommit_test

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// commitCutter is a TCP proxy in front of PostgreSQL that, once armed, cuts
// the connection that sends the next COMMIT: either after the server has
// answered it (the transaction committed, but the client never hears so) or
// before forwarding it (nothing committed). Either way the client sees the
// connection break after sending COMMIT: the commit's outcome is unknown to
// it.
type commitCutter struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32 // 0, cutAfterCommit or cutBeforeCommit
	fired   chan struct{}
	fireOne sync.Once
}

const (
	cutAfterCommit  = 1
	cutBeforeCommit = 2
)

// newCommitCutter proxies the server of dsn and returns the DSN to use
// instead.
func newCommitCutter(t *testing.T, dsn string) (*commitCutter, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{ln: ln, target: u.Host, fired: make(chan struct{})}
	t.Cleanup(func() { _ = ln.Close() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// arm makes the proxy cut the connection of the next COMMIT, once.
func (p *commitCutter) arm(mode int32) { p.armed.Store(mode) }

func (p *commitCutter) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		go p.pipe(client, server)
	}
}

func (p *commitCutter) pipe(client, server net.Conn) {
	cut := func() { _ = client.Close(); _ = server.Close() }
	var swallow atomic.Bool // drop the server's answer to the COMMIT, then cut
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && swallow.Load() {
				cut()
				p.fireOne.Do(func() { close(p.fired) })
				return
			}
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					cut()
					return
				}
			}
			if err != nil {
				cut()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && bytes.Contains(buf[:n], []byte("COMMIT\x00")) {
			switch p.armed.Swap(0) {
			case cutAfterCommit:
				swallow.Store(true)
			case cutBeforeCommit:
				cut()
				p.fireOne.Do(func() { close(p.fired) })
				return
			}
		}
		if n > 0 {
			if _, werr := server.Write(buf[:n]); werr != nil {
				cut()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				cut()
			}
			_ = server.Close()
			return
		}
	}
}
