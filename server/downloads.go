package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// DownloadSettlementCSV implements GET /downloads/{job_id}.csv: the CSV of a
// COMPLETED job, streamed from the database a chunk at a time, with a strong
// ETag; 304 when If-None-Match holds it.
func (s *Server) DownloadSettlementCSV(ctx context.Context, req gen.DownloadSettlementCSVRequestObject) (gen.DownloadSettlementCSVResponseObject, error) {
	ctx = requestContext(ctx)
	res, refusal, err := s.result(ctx, req.JobID)
	switch {
	case err != nil:
		return nil, err
	case refusal != nil:
		return refusal, nil
	}
	etag := resultETag(res)
	if req.Params.IfNoneMatch != nil && etagMatches(*req.Params.IfNoneMatch, etag) {
		return gen.DownloadSettlementCSV304Response{Headers: gen.ResultNotModifiedResponseHeaders{ETag: etag}}, nil
	}
	res, body, err := s.store.OpenResult(ctx, req.JobID)
	if errors.Is(err, store.ErrResultNotFound) { // purged since
		return gen.DownloadSettlementCSV410JSONResponse{Body: fileGone(req.JobID)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.DownloadSettlementCSV200TextCsvResponse{
		Body:          body, // closed by the generated response writer
		ContentLength: res.Size,
		Headers: gen.DownloadSettlementCSV200ResponseHeaders{
			ContentDisposition: contentDisposition(req.JobID),
			ETag:               resultETag(res),
		},
	}, nil
}

// HeadSettlementCSV implements HEAD /downloads/{job_id}.csv: the status and
// headers GET would answer, without a body (and without reading the file).
func (s *Server) HeadSettlementCSV(ctx context.Context, req gen.HeadSettlementCSVRequestObject) (gen.HeadSettlementCSVResponseObject, error) {
	ctx = requestContext(ctx)
	res, refusal, err := s.result(ctx, req.JobID)
	switch {
	case err != nil:
		return nil, err
	case refusal != nil:
		return headRefusal{status: refusal.status, body: refusal.body}, nil
	}
	etag := resultETag(res)
	if req.Params.IfNoneMatch != nil && etagMatches(*req.Params.IfNoneMatch, etag) {
		return gen.HeadSettlementCSV304Response{Headers: gen.ResultNotModifiedResponseHeaders{ETag: etag}}, nil
	}
	return headCSV{size: res.Size, disposition: contentDisposition(req.JobID), etag: etag}, nil
}

// result returns a COMPLETED job's stored result, or the refusal to answer
// instead (403 FORBIDDEN for a merchant-bound credential, 404 JOB_NOT_FOUND
// or FILE_NOT_READY, 410 FILE_GONE).
func (s *Server) result(ctx context.Context, id uuid.UUID) (store.Result, *downloadRefusal, error) {
	if p := auth.FromContext(ctx); p != nil && p.MerchantID != nil {
		// A file holds every merchant's settlements.
		return store.Result{}, &downloadRefusal{status: http.StatusForbidden, body: forbidden(
			"the credential is bound to merchant_id %d; a settlement file holds every merchant's rows: use GET /settlements", *p.MerchantID).Body}, nil
	}
	j, err := s.jobs.Get(ctx, id)
	if errors.Is(err, domain.ErrJobNotFound) {
		return store.Result{}, &downloadRefusal{status: http.StatusNotFound, body: jobNotFound(id).Body}, nil
	}
	if err != nil {
		return store.Result{}, nil, err
	}
	if j.Status != domain.JobCompleted {
		return store.Result{}, &downloadRefusal{status: http.StatusNotFound, body: apiError(gen.CodeFileNotReady,
			"job %s is %s; the file is ready when it is COMPLETED", j.ID, j.Status)}, nil
	}
	res, err := s.store.GetResult(ctx, id)
	if errors.Is(err, store.ErrResultNotFound) {
		return store.Result{}, &downloadRefusal{status: http.StatusGone, body: fileGone(id)}, nil
	}
	if err != nil {
		return store.Result{}, nil, err
	}
	return res, nil, nil
}

// downloadRefusal is a download's 403, 404 or 410.
type downloadRefusal struct {
	status int
	body   gen.Error
}

// VisitDownloadSettlementCSVResponse writes the refusal as GET's JSON error.
func (r *downloadRefusal) VisitDownloadSettlementCSVResponse(w http.ResponseWriter) error {
	switch r.status {
	case http.StatusGone:
		return gen.DownloadSettlementCSV410JSONResponse{Body: r.body}.VisitDownloadSettlementCSVResponse(w)
	case http.StatusForbidden:
		return gen.DownloadSettlementCSV403JSONResponse{ForbiddenJSONResponse: gen.ForbiddenJSONResponse{Body: r.body}}.VisitDownloadSettlementCSVResponse(w)
	}
	return gen.DownloadSettlementCSV404JSONResponse{Body: r.body}.VisitDownloadSettlementCSVResponse(w)
}

// headRefusal is HEAD's 403, 404 or 410: GET's status and headers
// (Content-Length of the JSON error GET would send included), no body.
type headRefusal struct {
	status int
	body   gen.Error
}

// VisitHeadSettlementCSVResponse implements gen.HeadSettlementCSVResponseObject.
func (r headRefusal) VisitHeadSettlementCSVResponse(w http.ResponseWriter) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(r.body); err != nil { // as GET's writer encodes it
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(r.status)
	return nil
}

// headCSV is HEAD's 200: GET's headers, Content-Length included, no body.
type headCSV struct {
	size              int64
	disposition, etag string
}

// VisitHeadSettlementCSVResponse implements gen.HeadSettlementCSVResponseObject.
func (h headCSV) VisitHeadSettlementCSVResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Length", strconv.FormatInt(h.size, 10))
	w.Header().Set("Content-Disposition", h.disposition)
	w.Header().Set("ETag", h.etag)
	w.WriteHeader(http.StatusOK)
	return nil
}

func fileGone(id uuid.UUID) gen.Error {
	return apiError(gen.CodeFileGone, "the result of job %s is no longer stored (the retention period has passed); run the job again", id)
}

func contentDisposition(id uuid.UUID) string {
	return fmt.Sprintf(`attachment; filename="settlement-%s.csv"`, id)
}

// resultETag is the strong entity tag of a result: its SHA-256, quoted.
func resultETag(r store.Result) string { return `"` + r.SHA256 + `"` }

// etagMatches reports whether an If-None-Match value names etag: "*", or a
// list holding it (compared weakly, as RFC 9110 asks for If-None-Match).
func etagMatches(ifNoneMatch, etag string) bool {
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
