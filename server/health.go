package server

import (
	"context"
	"time"

	"github.com/ordersettle/ordersettle/gen"
)

// readinessTimeout bounds the database check of GET /readyz and GET /health.
const readinessTimeout = time.Second

// GetLiveness implements GET /livez: 200 while the process serves. It never
// touches the database.
func (s *Server) GetLiveness(context.Context, gen.GetLivenessRequestObject) (gen.GetLivenessResponseObject, error) {
	return gen.GetLiveness200JSONResponse{Body: gen.Liveness{Status: gen.LivenessOK}}, nil
}

// GetReadiness implements GET /readyz.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	ready, body := s.readiness(requestContext(ctx))
	if !ready {
		return gen.GetReadiness503JSONResponse{NotReadyJSONResponse: notReady(body)}, nil
	}
	return gen.GetReadiness200JSONResponse{ReadyJSONResponse: gen.ReadyJSONResponse{Body: body}}, nil
}

// GetHealth implements GET /health, which answers like GET /readyz.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	ready, body := s.readiness(requestContext(ctx))
	if !ready {
		return gen.GetHealth503JSONResponse{NotReadyJSONResponse: notReady(body)}, nil
	}
	return gen.GetHealth200JSONResponse{ReadyJSONResponse: gen.ReadyJSONResponse{Body: body}}, nil
}

// readiness checks the database within readinessTimeout.
func (s *Server) readiness(ctx context.Context) (ready bool, body gen.Readiness) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check: database unreachable", "err", err)
		return false, gen.Readiness{Status: gen.ReadinessUnavailable, Database: gen.DatabaseUnreachable}
	}
	return true, gen.Readiness{Status: gen.ReadinessOK, Database: gen.DatabaseOK}
}

func notReady(body gen.Readiness) gen.NotReadyJSONResponse {
	return gen.NotReadyJSONResponse{Body: body, Headers: gen.NotReadyResponseHeaders{RetryAfter: retryAfterSeconds}}
}
