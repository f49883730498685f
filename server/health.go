package server

import (
	"context"
	"time"

	"github.com/ordersettle/ordersettle/gen"
)

// healthTimeout bounds the database check of GET /health.
const healthTimeout = 2 * time.Second

// GetHealth implements GET /health: 200 when the database answers, 503 when
// it does not.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	ctx = requestContext(ctx)
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("health check: database unreachable", "err", err)
		return gen.GetHealth503JSONResponse{Status: gen.HealthStatusUnavailable, Database: gen.HealthDatabaseUnreachable}, nil
	}
	return gen.GetHealth200JSONResponse{Status: gen.HealthStatusOk, Database: gen.HealthDatabaseOk}, nil
}
