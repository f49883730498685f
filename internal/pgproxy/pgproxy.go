// Package pgproxy holds TCP proxies in front of PostgreSQL for fault tests:
// CommitCutter cuts the connection of a COMMIT, so that the client does not
// learn whether its transaction committed.
package pgproxy

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// CommitCutter is a TCP proxy in front of PostgreSQL that, once armed, cuts
// the connection that sends the next COMMIT: either after the server has
// answered it (the transaction committed, but the client never hears so) or
// before forwarding it (nothing committed). Either way the client sees the
// connection break after sending COMMIT: the commit's outcome is unknown to
// it.
type CommitCutter struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32 // 0, CutAfterCommit or CutBeforeCommit
	fired   chan struct{}
	fireOne sync.Once
}

// Modes of Arm.
const (
	// CutAfterCommit lets the COMMIT through and drops the server's answer:
	// the transaction committed, but the client never hears so.
	CutAfterCommit int32 = 1
	// CutBeforeCommit cuts the connection instead of forwarding the COMMIT:
	// nothing committed.
	CutBeforeCommit int32 = 2
)

// NewCommitCutter proxies the server of dsn until the test ends and returns
// the DSN to use instead.
func NewCommitCutter(t *testing.T, dsn string) (*CommitCutter, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CommitCutter{ln: ln, target: u.Host, fired: make(chan struct{})}
	t.Cleanup(func() { _ = ln.Close() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// Arm makes the proxy cut the connection of the next COMMIT, once, as mode
// says.
func (p *CommitCutter) Arm(mode int32) { p.armed.Store(mode) }

// Fired is closed once the proxy has cut a COMMIT's connection.
func (p *CommitCutter) Fired() <-chan struct{} { return p.fired }

func (p *CommitCutter) serve() {
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

func (p *CommitCutter) pipe(client, server net.Conn) {
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
			case CutAfterCommit:
				swallow.Store(true)
			case CutBeforeCommit:
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
