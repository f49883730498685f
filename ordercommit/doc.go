// Package ordercommit places orders by group commit, so that a flash sale's
// crowd of buyers of one product costs a few database transactions instead
// of one durable commit per order.
//
// Place puts an order on a bounded queue and waits. A few committer
// goroutines each take everything that has accumulated, up to a batch bound,
// as soon as their previous commit returns (no timer: a lone order at low
// load is committed at once), and place it in one transaction with
// store.PlaceOrders: the products locked in id order, every order decided in
// arrival order against the locked stock, one statement for all the writes,
// one COMMIT and so one WAL flush. Only then is any order of the batch
// answered, so an order reported placed is durable (with the database's
// synchronous_commit on, its default). Orders with an Idempotency-Key join
// batches too: their keys are claimed first, also in groups (claimer
// goroutines insert all the claims queued in one statement,
// store.ClaimIdempotencyKeys, which never waits for a product's row lock, so
// that a request whose key is in flight is refused at once), and the batch
// records the outcome under the key in the transaction that places the
// order.
//
// Failures: a batch that fails before COMMIT is sent (connection lost,
// serialization failure, deadlock) commits nothing and is run again, a few
// times; when the outcome of COMMIT is unknown it is never run again, and
// its orders fail with an error wrapping domain.ErrUnavailable. A batch the
// database refuses (an order breaks a constraint) is placed again one order
// at a time, in arrival order, so that only the bad order fails. A
// requester that stops waiting never stalls a committer: answers go to
// buffered channels, requests whose context has ended are left out of the
// batch, and a batch whose requesters have all left is cancelled.
//
// Flash-sale orders: a batch decides holds (products with hold_seconds:
// the order is pending until its expires_at) and per-buyer limits
// (max_per_buyer) like the stock, under the products' row locks, in
// arrival order. Confirm and Cancel are single guarded transitions of one
// order, and RunExpiry, which every instance runs, expires holds past
// their expires_at and gives their units back, in bounded batches shared
// between instances with SKIP LOCKED.
//
// The package sits above store because it is not data access: it owns
// goroutines, a queue, a retry policy and metrics, and holds no SQL. All of
// the SQL (the batch transaction, the key claims) and the translation of
// driver errors stay in store.
package ordercommit
