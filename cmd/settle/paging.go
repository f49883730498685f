package main

import (
	"context"
	"flag"
	"fmt"
)

// Page sizes of the list commands: the most the API gives in one page, and
// how many items a list shows without --limit or --all.
const (
	maxJobsPage            = 100
	maxSettlementsPage     = 1000
	defaultJobsShown       = 20
	defaultSettlementsShow = 100
)

// paging holds the --limit and --all flags of a list command.
type paging struct {
	max *int64
	all *bool
}

// registerPaging adds --limit (default def) and --all to fs; noun names what
// is listed.
func registerPaging(fs *flag.FlagSet, noun string, def int64) paging {
	return paging{
		max: fs.Int64("limit", def, fmt.Sprintf("show at most `N` %s, fetching as many pages as that takes", noun)),
		all: fs.Bool("all", false, "show every one of the "+noun+", following the cursor to the end"),
	}
}

// limit is how many items to show: 0 for all of them.
func (p paging) limit(fs *flag.FlagSet) (int, error) {
	if *p.all {
		if isSet(fs, "limit") {
			return 0, badUsage("--all and --limit contradict each other; pass one of them")
		}
		return 0, nil
	}
	if *p.max < 1 {
		return 0, badUsage("--limit %d must be at least 1 (or use --all)", *p.max)
	}
	return int(*p.max), nil
}

// fetchPage gets one page of at most size items after cursor (nil: the
// first page) and returns its items and its next_cursor.
type fetchPage[T any] func(ctx context.Context, size int32, cursor *string) ([]T, *string, error)

// collect gets up to limit items (every item when limit is 0) in pages of at
// most maxPage, following next_cursor. It returns the items and the cursor
// of what follows them, nil when nothing does.
func collect[T any](ctx context.Context, limit, maxPage int, fetch fetchPage[T]) ([]T, *string, error) {
	var (
		items  []T
		cursor *string
	)
	for {
		size := maxPage
		if limit > 0 {
			size = min(maxPage, limit-len(items))
		}
		page, next, err := fetch(ctx, int32(size), cursor)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, page...)
		if next == nil || (limit > 0 && len(items) >= limit) {
			return items, next, nil
		}
		cursor = next
	}
}

// noteMore tells, on stderr, that a list stopped before its end.
func (s *session) noteMore(next *string, noun string) {
	if next != nil {
		fmt.Fprintf(s.stderr, "more %s follow: raise --limit or pass --all to see them\n", noun)
	}
}
