package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	elevator "github.com/elevatorhq/elevator"
)

// Metrics are the deployer's Prometheus metrics, on a registry of their
// own (not the global one, so that two deployers in one test process do
// not collide). The API counts its requests and refusals; the deployer
// counts the rest with the exported collectors.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts API requests by route pattern and status code.
	Requests *prometheus.CounterVec
	// RequestSeconds is the API's latency by route pattern.
	RequestSeconds *prometheus.HistogramVec
	// Refused counts refused API calls by status (401, 403).
	Refused *prometheus.CounterVec
	// Releases is how many releases the deployer knows in each state.
	Releases *prometheus.GaugeVec
	// Transitions counts the states releases entered.
	Transitions *prometheus.CounterVec
	// StepSeconds is how long releases stayed in each state.
	StepSeconds *prometheus.HistogramVec
	// AWSCalls and AWSErrors count AWS operations (retries included in
	// one call) by service and operation; AWSErrors also by error code.
	AWSCalls  *prometheus.CounterVec
	AWSErrors *prometheus.CounterVec
	// LeaseRenewals counts lease renewals by outcome (ok, lost, error).
	LeaseRenewals *prometheus.CounterVec
	// QueueLagSeconds is the age of the oldest submission taken from the
	// queue, as last seen.
	QueueLagSeconds prometheus.Gauge
}

// NewMetrics returns the metrics on a new registry, with the Go runtime's
// and the process's collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_api_requests_total",
			Help: "API requests by route and status code."}, []string{"route", "code"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "elevator_api_request_duration_seconds",
			Help: "API request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_api_refused_total",
			Help: "API calls refused, by status: 401 not authenticated, 403 not allowed."}, []string{"code"}),
		Releases: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "elevator_releases",
			Help: "Releases by state."}, []string{"state"}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_release_transitions_total",
			Help: "States entered by releases."}, []string{"state"}),
		StepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "elevator_release_step_duration_seconds",
			Help:    "Time releases spent in each state.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"state"}),
		AWSCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_aws_calls_total",
			Help: "AWS operations called, by service and operation."}, []string{"service", "operation"}),
		AWSErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_aws_call_errors_total",
			Help: "AWS operations that failed, by service, operation and error code."}, []string{"service", "operation", "code"}),
		LeaseRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "elevator_lease_renewals_total",
			Help: "Release lock lease renewals by outcome."}, []string{"outcome"}),
		QueueLagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "elevator_queue_lag_seconds",
			Help: "Age of the oldest submission last taken from the queue."}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestSeconds, m.Refused, m.Releases, m.Transitions, m.StepSeconds,
		m.AWSCalls, m.AWSErrors, m.LeaseRenewals, m.QueueLagSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveTransition counts a release entering its current state and, when
// it has left one, how long it spent there: call it with each record the
// engine writes (release.Config.Observe).
func (m *Metrics) ObserveTransition(rec elevator.ReleaseRecord) {
	n := len(rec.Path)
	if n == 0 || len(rec.Visits) != n {
		return
	}
	m.Transitions.WithLabelValues(string(rec.State)).Inc()
	if n >= 2 {
		m.StepSeconds.WithLabelValues(string(rec.Path[n-2])).Observe(rec.Visits[n-1].Sub(rec.Visits[n-2]).Seconds())
	}
}

// AWSMiddleware counts every AWS operation and every failed one by
// service and operation. Add it to the deployer's aws.Config:
//
//	cfg.APIOptions = append(cfg.APIOptions, metrics.AWSMiddleware)
func (m *Metrics) AWSMiddleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ElevatorMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			m.AWSCalls.WithLabelValues(service, op).Inc()
			if err != nil {
				code := "other"
				var api smithy.APIError
				var canceled *smithy.CanceledError
				switch {
				case errors.As(err, &api):
					code = api.ErrorCode()
				case errors.As(err, &canceled):
					code = "canceled"
				}
				m.AWSErrors.WithLabelValues(service, op, code).Inc()
			}
			return out, md, err
		}), middleware.After)
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets a watch stream through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument counts and times a route's requests and logs each one.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		s.o.Metrics.Requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.o.Metrics.RequestSeconds.WithLabelValues(route).Observe(d.Seconds())
		app := r.PathValue("app")
		if app == "" {
			app = r.URL.Query().Get("app")
		}
		s.o.Log.Info("request", "method", r.Method, "path", r.URL.Path, "route", route, "status", sw.status,
			"release", r.PathValue("id"), "app", app, "duration_ms", d.Milliseconds(), "remote", r.RemoteAddr)
	})
}
