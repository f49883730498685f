package store

// Internals that the external tests (package store_test) check.
var (
	JobListQuery        = jobListQuery
	SettlementListQuery = settlementListQuery
)
