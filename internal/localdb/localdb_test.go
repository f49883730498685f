package localdb

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/shop?sslmode=disable": "postgres://app@db:5432/shop?sslmode=disable",
		"postgres://db/shop":      "postgres://db/shop",
		"host=db password=s3cret": "(DATABASE_URL, a key=value connection string)",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
