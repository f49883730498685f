//go:build unix

package pglocal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// fallbackUsers are the accounts PostgreSQL runs as, in order of preference,
// when this process runs as root.
var fallbackUsers = []string{"postgres", "nobody"}

// resolveAccount decides which account PostgreSQL runs as. It returns nil
// (the current user) unless the process runs as root, because PostgreSQL
// refuses to run as root. As root it prefers the non-root owner of an already
// initialised data directory (a server running on it must be that user, and
// chowning it away would break other users of the directory), then the
// "postgres" user, then "nobody".
func resolveAccount(dataDir string) (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if fi, err := os.Stat(dataDir); err == nil && fi.IsDir() && initialised(dataDir) {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			return accountForUID(st.Uid, st.Gid), nil
		}
	}
	for _, name := range fallbackUsers {
		u, err := user.Lookup(name)
		if err != nil {
			if errors.As(err, new(user.UnknownUserError)) {
				continue
			}
			return nil, fmt.Errorf("pglocal: look up user %q: %w", name, err)
		}
		return accountFromUser(u)
	}
	return nil, errors.New("pglocal: PostgreSQL cannot run as root and neither a \"postgres\" nor a \"nobody\" user exists; " +
		"create one (e.g. `useradd --system postgres`) or run as a non-root user")
}

// accountForUID describes the owner of an existing data directory.
func accountForUID(uid, gid uint32) *account {
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		if a, err := accountFromUser(u); err == nil {
			return a
		}
	}
	return &account{name: fmt.Sprintf("uid %d", uid), uid: uid, gid: gid, groups: []uint32{gid}}
}

// accountFromUser converts a passwd entry.
func accountFromUser(u *user.User) (*account, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: user %s has non-numeric uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: user %s has non-numeric gid %q: %w", u.Username, u.Gid, err)
	}
	a := &account{name: u.Username, uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}}
	ids, err := u.GroupIds()
	if err != nil {
		return a, nil // supplementary groups are a nicety; the primary group suffices
	}
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil && !a.member(uint32(g)) {
			a.groups = append(a.groups, uint32(g))
		}
	}
	return a, nil
}

// apply makes cmd run as the account, with HOME (and USER, LOGNAME) set to
// match. It is a no-op for the current user.
func (a *account) apply(cmd *exec.Cmd, home string) {
	if a == nil {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups},
	}
	env := cmd.Environ()
	env = append(env, "HOME="+home, "USER="+a.name, "LOGNAME="+a.name)
	cmd.Env = env // later entries win
}

// chown hands a single file to the account; a no-op for the current user.
func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Lchown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("pglocal: chown %s to %s: %w", path, a, err)
	}
	return nil
}

// chownTree hands dir and everything below it to the account, touching only
// entries with a different owner; a no-op for the current user.
func (a *account) chownTree(dir string) error {
	if a == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		var fi fs.FileInfo
		if err == nil {
			fi, err = d.Info()
		}
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
				return nil
			}
			err = os.Lchown(path, int(a.uid), int(a.gid))
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, fs.ErrNotExist) && path != dir:
			return nil // removed meanwhile, e.g. a temporary file of a running server
		default:
			return fmt.Errorf("pglocal: chown %s to %s: %w", dir, a, err)
		}
	})
}

// checkReachable verifies that the account can traverse every existing
// directory above dataDir (directories that do not exist yet are created
// traversable by makeDataDir). It never changes permissions itself.
func (a *account) checkReachable(dataDir string) error {
	if a == nil {
		return nil
	}
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Created later with mode 0755.
		case err != nil:
			return fmt.Errorf("pglocal: check access to %s: %w", dir, err)
		case fi.IsDir() && !a.canTraverse(fi):
			return fmt.Errorf("pglocal: PostgreSQL cannot run as root, so it runs as %s, "+
				"but that user cannot traverse %s (mode %s) on the way to the data directory %s; "+
				"use a data directory under a directory every user can enter (e.g. under /var/tmp) or run `chmod o+x %s`",
				a, dir, fi.Mode().Perm(), dataDir, dir)
		}
		if parent := filepath.Dir(dir); parent == dir {
			return nil
		}
	}
}

// canTraverse applies the POSIX permission check for search (x) access:
// only the owner bits count for the owner, only the group bits for members
// of the group, the other bits for everyone else.
func (a *account) canTraverse(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell; let PostgreSQL report it
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case a.member(st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// interrupt asks a child to stop when the context is cancelled: initdb then
// removes what it created, and pg_ctl start passes the signal on to the
// starting server.
func interrupt(p *os.Process) error {
	return p.Signal(os.Interrupt)
}
