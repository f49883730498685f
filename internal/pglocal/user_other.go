//go:build !unix

package pglocal

import (
	"os"
	"os/exec"
)

// resolveAccount returns nil: outside Unix, PostgreSQL runs as the current
// user.
func resolveAccount(string) (*account, error) { return nil, nil }

// apply is a no-op outside Unix.
func (a *account) apply(*exec.Cmd, string) {}

// chown is a no-op outside Unix.
func (a *account) chown(string) error { return nil }

// chownTree is a no-op outside Unix.
func (a *account) chownTree(string) error { return nil }

// checkReachable is a no-op outside Unix.
func (a *account) checkReachable(string) error { return nil }

// interrupt stops a child; outside Unix it can only be killed.
func interrupt(p *os.Process) error { return p.Kill() }
