// Package pgproxy holds TCP proxies in front of PostgreSQL for fault tests:
// CommitCutter cuts the connection of a COMMIT, so that the client does not
// learn whether its transaction committed; it can also take the database
// away and make it hang.
package pgproxy

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CommitCutter is a TCP proxy in front of PostgreSQL that, once armed, cuts
// the connection that sends the next COMMIT: either after the server has
// answered it (the transaction committed, but the client never hears so) or
// before forwarding it (nothing committed). Either way the client sees the
// connection break after sending COMMIT: the commit's outcome is unknown to
// it. It can also take the database away (every connection cut, new ones
// refused; see GoDown) and stall it (nothing forwarded either way; see
// Stall).
type CommitCutter struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32 // 0, CutAfterCommit, CutBeforeCommit or CutBeforeCommitThenDown
	fired   chan struct{}
	fireOne sync.Once
	down    atomic.Bool // refuse connections
	stalled atomic.Bool // forward nothing

	mu    sync.Mutex
	conns map[net.Conn]bool // open connections, both sides
}

// Modes of Arm.
const (
	// CutAfterCommit lets the COMMIT through and drops the server's answer:
	// the transaction committed, but the client never hears so.
	CutAfterCommit int32 = 1
	// CutBeforeCommit cuts the connection instead of forwarding the COMMIT:
	// nothing committed.
	CutBeforeCommit int32 = 2
	// CutBeforeCommitThenDown cuts before the COMMIT, as CutBeforeCommit,
	// and takes the database away at once (GoDown), so that nothing can
	// follow the failure (a key's release, say) until GoUp.
	CutBeforeCommitThenDown int32 = 3
)

// NewCommitCutter proxies the server of dsn until the test ends and returns
// the DSN to use instead. When the test ends, the proxy stops accepting,
// unstalls and cuts every open connection.
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
	p := &CommitCutter{ln: ln, target: u.Host, fired: make(chan struct{}), conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = ln.Close(); p.stalled.Store(false); p.GoDown() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// Arm makes the proxy cut the connection of the next COMMIT, once, as mode
// says.
func (p *CommitCutter) Arm(mode int32) { p.armed.Store(mode) }

// Fired is closed once the proxy has cut a COMMIT's connection.
func (p *CommitCutter) Fired() <-chan struct{} { return p.fired }

// GoDown takes the database away: it cuts every open connection and refuses
// new ones until GoUp.
func (p *CommitCutter) GoDown() {
	p.down.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// GoUp brings the database back after GoDown: the proxy accepts
// connections again.
func (p *CommitCutter) GoUp() { p.down.Store(false) }

// Stall makes the database seem to hang: the proxy forwards nothing, on
// open and new connections alike, until Unstall.
func (p *CommitCutter) Stall() { p.stalled.Store(true) }

// Unstall ends a Stall: the proxy forwards again, what it held back first.
func (p *CommitCutter) Unstall() { p.stalled.Store(false) }

func (p *CommitCutter) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *CommitCutter) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		go p.pipe(client, server)
	}
}

// waitWhileStalled holds a read's bytes back while the proxy is stalled.
func (p *CommitCutter) waitWhileStalled() {
	for p.stalled.Load() {
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *CommitCutter) pipe(client, server net.Conn) {
	cut := func() {
		_ = client.Close()
		_ = server.Close()
		p.track(client, false)
		p.track(server, false)
	}
	fire := func() { p.fireOne.Do(func() { close(p.fired) }) }
	var swallow atomic.Bool // drop the server's answer to the COMMIT, then cut
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			p.waitWhileStalled()
			if n > 0 && swallow.Load() {
				cut()
				fire()
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
		p.waitWhileStalled()
		if n > 0 && bytes.Contains(buf[:n], []byte("COMMIT\x00")) {
			switch p.armed.Swap(0) {
			case CutAfterCommit:
				swallow.Store(true)
			case CutBeforeCommit:
				cut()
				fire()
				return
			case CutBeforeCommitThenDown:
				p.GoDown()
				cut()
				fire()
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
