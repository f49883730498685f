package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/buildinfo"
)

// metrics are the HTTP layer's Prometheus metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	shed     prometheus.Counter

	unauthenticated prometheus.Counter
	rateLimited     prometheus.Counter
}

// authCollectors are the access-control metrics that read keys.
func authCollectors(keys *auth.KeyVerifier) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ordersettle_auth_key_lookups_total",
			Help: "Database look-ups of API keys missing from the in-process cache; flat in steady state.",
		}, func() float64 { return float64(keys.Lookups()) }),
	}
}

func newMetrics(reg *prometheus.Registry, extra []prometheus.Collector) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
		extra = append(extra, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersettle_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ordersettle_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_http_requests_shed_total",
			Help: "API requests answered 503 because MaxInFlight requests were in flight.",
		}),
		unauthenticated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_auth_unauthenticated_total",
			Help: "Requests answered 401 UNAUTHENTICATED.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_auth_rate_limited_total",
			Help: "Requests answered 429 RATE_LIMITED.",
		}),
	}
	build := buildinfo.Read()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ordersettle_build_info",
		Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{
			"version": build.Version, "revision": build.Revision, "goversion": build.GoVersion,
		},
	})
	buildInfo.Set(1)
	for _, c := range append([]prometheus.Collector{m.requests, m.duration, m.shed, m.unauthenticated, m.rateLimited, buildInfo}, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// observe records every request under its method (bounded, see methodLabel)
// and route template (never the raw path, which would explode the label
// set; unknown paths share "unmatched").
func (m *metrics) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	method, route := methodLabel(c.Request.Method), routeLabel(c)
	m.requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
	m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// methodLabel is the method as metrics and the access log name it: one of
// the methods HTTP APIs use, or OTHER, so that made-up methods cannot add
// label values (each would be a new series for as long as the process runs).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	default:
		return "OTHER"
	}
}

// routeLabel is the route template that matched the request, or "unmatched".
func routeLabel(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "unmatched"
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
