package pglocal

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// freePort asks the kernel for a currently unused port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening dials 127.0.0.1:port until a connection succeeds, ctx is
// done or timeout has passed.
func waitListening(ctx context.Context, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close() // only reachability matters
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dial %s: %w", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
