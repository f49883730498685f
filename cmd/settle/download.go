package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/gen/client"
)

// download streams the CSV of job id to out, a file path or "-" for stdout,
// and returns the number of bytes written. A file appears only complete: the
// body goes to a temporary file in the same directory, renamed into place.
func (s *session) download(ctx context.Context, id uuid.UUID, out string) (int64, error) {
	resp, err := s.api.DownloadSettlementCSV(ctx, id, nil)
	if err != nil {
		return 0, s.fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r, err := client.ParseDownloadSettlementCSVResponse(resp)
		if err != nil {
			return 0, s.fail(err)
		}
		return 0, s.expect(r, http.StatusOK)
	}

	var n int64
	if out == "-" {
		n, err = io.Copy(s.stdout, resp.Body)
	} else {
		n, err = writeFileAtomic(out, resp.Body)
	}
	if ctx.Err() != nil {
		return n, ctx.Err()
	}
	if err != nil {
		return n, fmt.Errorf("download of job %s failed after %d bytes: %w", id, n, err)
	}
	return n, nil
}

// writeFileAtomic writes r to path through a temporary file in path's
// directory that is renamed to path once complete; on failure no file is left
// behind and an existing file at path is untouched.
func writeFileAtomic(path string, r io.Reader) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, err = io.Copy(tmp, r); err != nil {
		return n, err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return n, err
	}
	if err = tmp.Sync(); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), path)
}
