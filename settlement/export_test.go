package settlement

// SetProgressSteps sets the block plan's least steps of progress for a
// benchmark (0: cut as before progress moved) and returns a restore.
func SetProgressSteps(n int64) (restore func()) {
	old := progressSteps.Swap(n)
	return func() { progressSteps.Store(old) }
}
