package server

import (
	"context"
	"errors"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/gen"
	"github.com/ordersettle/ordersettle/store"
)

// defaultJobPageSize is the default limit of GET /jobs, as in the spec.
const defaultJobPageSize = 20

// CreateSettlementJob implements POST /jobs/settlement.
func (s *Server) CreateSettlementJob(ctx context.Context, req gen.CreateSettlementJobRequestObject) (gen.CreateSettlementJobResponseObject, error) {
	ctx = requestContext(ctx)
	from, to := req.Body.From.Time, req.Body.To.Time
	if to.Before(from) {
		return gen.CreateSettlementJob400JSONResponse{BadRequestJSONResponse: badRequest(
			"request body: to (%s) must not be before from (%s)", req.Body.To, req.Body.From)}, nil
	}
	createdBy := ""
	if p := auth.FromContext(ctx); p != nil {
		createdBy = p.ID
	}
	j, err := s.jobs.SubmitBy(ctx, from, to, createdBy)
	if err != nil {
		return nil, err
	}
	return gen.CreateSettlementJob202JSONResponse{
		Body:    jobJSON(j),
		Headers: gen.CreateSettlementJob202ResponseHeaders{Location: jobLocation(j.ID)},
	}, nil
}

// GetJob implements GET /jobs/{id}.
func (s *Server) GetJob(ctx context.Context, req gen.GetJobRequestObject) (gen.GetJobResponseObject, error) {
	ctx = requestContext(ctx)
	j, err := s.jobs.Get(ctx, req.ID)
	if errors.Is(err, domain.ErrJobNotFound) {
		return gen.GetJob404JSONResponse{JobNotFoundJSONResponse: jobNotFound(req.ID)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.GetJob200JSONResponse{Body: jobJSON(j)}, nil
}

// ListJobs implements GET /jobs.
func (s *Server) ListJobs(ctx context.Context, req gen.ListJobsRequestObject) (gen.ListJobsResponseObject, error) {
	ctx = requestContext(ctx)
	q := store.JobQuery{Limit: defaultJobPageSize}
	if req.Params.Limit != nil {
		q.Limit = int(*req.Params.Limit)
	}
	if req.Params.Status != nil {
		q.Status = domain.JobStatus(*req.Params.Status)
	}
	if req.Params.Cursor != nil {
		after, err := decodeJobCursor(*req.Params.Cursor)
		if err != nil {
			return gen.ListJobs400JSONResponse{BadRequestJSONResponse: badRequest("query parameter cursor: %v", err)}, nil
		}
		q.After = &after
	}
	jobs, more, err := s.jobs.List(ctx, q)
	if err != nil {
		return nil, err
	}
	list := gen.JobList{Items: make([]gen.Job, len(jobs))}
	for i, j := range jobs {
		list.Items[i] = jobJSON(j)
	}
	if more {
		next := encodeJobCursor(jobs[len(jobs)-1].Key())
		list.NextCursor = &next
	}
	return gen.ListJobs200JSONResponse{Body: list}, nil
}

// CancelJob implements POST /jobs/{id}/cancel.
func (s *Server) CancelJob(ctx context.Context, req gen.CancelJobRequestObject) (gen.CancelJobResponseObject, error) {
	ctx = requestContext(ctx)
	j, err := s.jobs.Cancel(ctx, req.ID)
	switch {
	case errors.Is(err, domain.ErrJobNotFound):
		return gen.CancelJob404JSONResponse{JobNotFoundJSONResponse: jobNotFound(req.ID)}, nil
	case errors.Is(err, domain.ErrJobNotCancellable):
		return gen.CancelJob409JSONResponse{Body: apiError(gen.CodeJobNotCancellable,
			"job %s is %s and can no longer be cancelled", req.ID, j.Status)}, nil
	case err != nil:
		return nil, err
	}
	return gen.CancelJob202JSONResponse{
		Body:    jobJSON(j),
		Headers: gen.CancelJob202ResponseHeaders{Location: jobLocation(j.ID)},
	}, nil
}

func jobNotFound(id openapi_types.UUID) gen.JobNotFoundJSONResponse {
	return gen.JobNotFoundJSONResponse{Body: apiError(gen.CodeJobNotFound, "job %s not found", id)}
}

// jobLocation is the relative URL of a job, for the Location header of 202s.
func jobLocation(id openapi_types.UUID) string { return "/jobs/" + id.String() }

// jobJSON is the API view of a job: download_url only when COMPLETED, error
// only when FAILED.
func jobJSON(j domain.Job) gen.Job {
	out := gen.Job{
		JobID:          j.ID,
		Status:         gen.JobStatus(j.Status),
		Progress:       j.Progress,
		Processed:      j.Processed,
		Total:          j.Total,
		TotalEstimated: j.TotalEstimated && j.Status != domain.JobCompleted,
		From:           openapi_types.Date{Time: j.From},
		To:             openapi_types.Date{Time: j.To},
		CreatedAt:      j.CreatedAt.UTC(),
		UpdatedAt:      j.UpdatedAt.UTC(),
		Attempts:       int32(j.Attempts),
		StartedAt:      utcPtr(j.StartedAt),
		CreatedBy:      j.CreatedBy,
	}
	switch j.Status {
	case domain.JobCompleted, domain.JobFailed, domain.JobCancelled:
		out.FinishedAt = utcPtr(j.FinishedAt)
	}
	switch j.Status {
	case domain.JobCompleted:
		url := "/downloads/" + j.ID.String() + ".csv"
		out.DownloadURL = &url
		n := int64(0) // the database never has a COMPLETED job without its count
		if j.Settlements != nil {
			n = *j.Settlements
		}
		out.Settlements = &n
	case domain.JobFailed:
		msg := "the job failed"
		if j.Error != nil {
			msg = *j.Error
		}
		out.Error = &msg
	}
	return out
}

// utcPtr returns t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// RetryJob implements POST /jobs/{id}/retry.
func (s *Server) RetryJob(ctx context.Context, req gen.RetryJobRequestObject) (gen.RetryJobResponseObject, error) {
	ctx = requestContext(ctx)
	j, err := s.jobs.Retry(ctx, req.ID)
	switch {
	case errors.Is(err, domain.ErrJobNotFound):
		return gen.RetryJob404JSONResponse{JobNotFoundJSONResponse: jobNotFound(req.ID)}, nil
	case errors.Is(err, domain.ErrJobNotRetryable):
		return gen.RetryJob409JSONResponse{Body: apiError(gen.CodeJobNotRetryable,
			"job %s is %s; only FAILED or CANCELLED jobs can be retried (%s)", req.ID, j.Status, notRetryableHint(j.Status))}, nil
	case err != nil:
		return nil, err
	}
	return gen.RetryJob202JSONResponse{
		Body:    jobJSON(j),
		Headers: gen.RetryJob202ResponseHeaders{Location: jobLocation(j.ID)},
	}, nil
}

// notRetryableHint says what to do instead of retrying a job in status st.
func notRetryableHint(st domain.JobStatus) string {
	switch st {
	case domain.JobCompleted:
		return "to settle the range again, queue a new job"
	default: // QUEUED or RUNNING
		return "it will run or is running; wait for it to end, or cancel it first"
	}
}
