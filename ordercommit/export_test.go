package ordercommit

// Test hooks.

// MaxAttempts is how many times a batch is tried in all.
const MaxAttempts = maxAttempts

// QueueLen is how many orders wait for a committer.
func (c *Committer) QueueLen() int { return len(c.queue) }
