package server

import "github.com/ordersettle/ordersettle/auth"

// RememberKey puts k in the server's key cache, as if the server had read
// it before its database went away.
func (s *Server) RememberKey(k auth.Key) { s.keys.Remember(k) }
