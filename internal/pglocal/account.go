package pglocal

import (
	"fmt"
	"slices"
)

// account is the operating-system account that initdb, pg_ctl and hence the
// server run as. A nil *account means "the current user", which is what is
// used unless the process runs as root.
type account struct {
	name   string   // user name, or "uid N" when the uid has no passwd entry
	uid    uint32   // user id
	gid    uint32   // primary group id
	groups []uint32 // supplementary group ids, including gid
}

// String describes the account for messages.
func (a *account) String() string {
	if a == nil {
		return "the current user"
	}
	return fmt.Sprintf("%s (uid %d)", a.name, a.uid)
}

// member reports whether the account belongs to group gid.
func (a *account) member(gid uint32) bool {
	return a.gid == gid || slices.Contains(a.groups, gid)
}
