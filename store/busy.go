package store

import (
	"context"
	"fmt"
)

// Busy runs a statement that keeps one database core busy for about n × 30
// ns and reads no table (it counts a generated series, streamed, never
// stored). The settlement engine times a few of them alone and side by side
// to learn how many queries the database runs at once at full speed.
func (s *Store) Busy(ctx context.Context, n int64) error {
	var got int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT generate_series(1, $1::int8)) s`, n).Scan(&got); err != nil {
		return fmt.Errorf("busy query: %w", translate(err))
	}
	if got != n {
		return fmt.Errorf("busy query counted %d of %d", got, n)
	}
	return nil
}
