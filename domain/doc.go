// Package domain holds the service's words: settlement jobs and their
// statuses and rules, orders, products, and the sentinel errors every layer
// speaks. It imports nothing of the project and runs no SQL, so that the
// HTTP layer, the order committer and the settlement engine can name a
// status or an error without importing the data-access package (store/
// translates its rows and its driver's errors into these).
//
// The struct tags name store's columns: store scans its rows straight into
// these records.
package domain
