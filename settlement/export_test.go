package settlement

// SetProgressWaves sets the block plan's least batches per worker for a
// benchmark (0: none, as before progress moved) and returns a restore.
func SetProgressWaves(n int64) (restore func()) {
	old := progressWaves.Swap(n)
	return func() { progressWaves.Store(old) }
}
