package ordercommit_test

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

// commitCutter is a TCP proxy in front of PostgreSQL that, once armed, cuts
// the connection that sends the next COMMIT: either after the server has
// answered it (the transaction committed, but the client never hears so) or
// before forwarding it (nothing committed). Either way the client sees the
// connection break after sending COMMIT: the commit's outcome is unknown to
// it. It can also take the database away (every connection cut, new ones
// refused) and stall it (nothing forwarded either way).
type commitCutter struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32 // 0, cutAfterCommit, cutBeforeCommit or cutBeforeCommitThenDown
	fired   chan struct{}
	fireOne sync.Once
	down    atomic.Bool // refuse connections
	stalled atomic.Bool // forward nothing

	mu    sync.Mutex
	conns map[net.Conn]bool // open connections, both sides
}

const (
	cutAfterCommit  = 1
	cutBeforeCommit = 2
	// cutBeforeCommitThenDown cuts before the COMMIT and takes the
	// database away at once, so that nothing can follow the failure (a
	// key's release, say) until goUp.
	cutBeforeCommitThenDown = 3
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
	p := &commitCutter{ln: ln, target: u.Host, fired: make(chan struct{}), conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = ln.Close(); p.stalled.Store(false); p.goDown() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// arm makes the proxy cut the connection of the next COMMIT, once.
func (p *commitCutter) arm(mode int32) { p.armed.Store(mode) }

// goDown cuts every connection and refuses new ones until goUp.
func (p *commitCutter) goDown() {
	p.down.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// goUp accepts connections again.
func (p *commitCutter) goUp() { p.down.Store(false) }

// stall stops forwarding anything, on open and new connections alike,
// until unstall: the database seems to hang.
func (p *commitCutter) stall()   { p.stalled.Store(true) }
func (p *commitCutter) unstall() { p.stalled.Store(false) }

func (p *commitCutter) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *commitCutter) serve() {
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
func (p *commitCutter) waitWhileStalled() {
	for p.stalled.Load() {
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *commitCutter) pipe(client, server net.Conn) {
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
			case cutAfterCommit:
				swallow.Store(true)
			case cutBeforeCommit:
				cut()
				fire()
				return
			case cutBeforeCommitThenDown:
				p.goDown()
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
