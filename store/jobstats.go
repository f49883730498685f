package store

import (
	"context"
	"fmt"
)

// CountJobsByStatus returns how many jobs the database holds in each status
// (statuses without jobs are absent).
func (s *Store) CountJobsByStatus(ctx context.Context) (map[JobStatus]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM jobs GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", translate(err))
	}
	defer rows.Close()
	counts := map[JobStatus]int64{}
	for rows.Next() {
		var status JobStatus
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count jobs: %w", translate(err))
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs: %w", translate(err))
	}
	return counts, nil
}
