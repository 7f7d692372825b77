package auditlog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-dev/rampart/internal/detect"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Queue bounds the events waiting for evaluation (default 100,000).
	// When it is full, events are dropped and counted.
	Queue int
	// Workers is the number of evaluating goroutines (default 2).
	Workers int
	// MaxBody bounds one request body (default 64 MiB).
	MaxBody int64
	// DropLogInterval is how often new drops are logged (default 10 s).
	DropLogInterval time.Duration
	// Log receives the server's logs.
	Log *slog.Logger
	// Metrics holds the counters (events, drops, queue depth) and is
	// served at /metrics; nil means a new registry.
	Metrics *detect.Metrics
}

// Process handles one event taken from the queue.
type Process func(ev *Event)

// Server receives audit.k8s.io/v1 EventLists from the API server's webhook
// backend over HTTPS. It decodes a batch, queues its events without
// blocking and answers at once; workers evaluate the queue. When the queue
// is full the events that do not fit are dropped and counted (exactly:
// received = processed + dropped once drained), exposed at /metrics and
// logged. Shutdown stops accepting, then drains the queue.
type Server struct {
	opts    ServerOptions
	process Process
	queue   chan *Event
	wg      sync.WaitGroup
	closing sync.Once
	qmu     sync.RWMutex // held for reading while enqueueing
	closed  bool

	received, processed, dropped, rejected atomic.Uint64
	metrics                                *detect.Metrics
	recv, drop, decode                     prometheus.Counter
	depth                                  prometheus.Gauge
	mux                                    *http.ServeMux
	srv                                    *http.Server
	stopLog                                chan struct{}
	logDone                                chan struct{}
}

// NewServer returns a server handing events to process and starts its
// workers.
func NewServer(process Process, opts ServerOptions) *Server {
	if opts.Queue <= 0 {
		opts.Queue = 100000
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 20
	}
	if opts.DropLogInterval <= 0 {
		opts.DropLogInterval = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = detect.NewMetrics()
	}
	s := &Server{
		opts: opts, process: process, queue: make(chan *Event, opts.Queue), metrics: opts.Metrics,
		stopLog: make(chan struct{}), logDone: make(chan struct{}),
	}
	s.recv = opts.Metrics.Events.WithLabelValues("audit-webhook")
	s.drop = opts.Metrics.Dropped.WithLabelValues(SourceName, "queue-full")
	s.decode = opts.Metrics.Dropped.WithLabelValues(SourceName, "decode-error")
	s.depth = opts.Metrics.Queue.WithLabelValues(SourceName)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /", s.serveEvents)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Metrics.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	for range opts.Workers {
		s.wg.Add(1)
		go s.work()
	}
	go s.logDrops()
	return s
}

// Handler returns the server's HTTP handler: POST / (any path) takes an
// EventList, GET /metrics and GET /healthz.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		s.rejected.Add(1)
		s.decode.Inc()
		http.Error(w, "reading body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	events, err := DecodeList(body, nil)
	if err != nil {
		s.rejected.Add(1)
		s.decode.Inc()
		s.opts.Log.Warn("audit webhook: bad request body", "remote", r.RemoteAddr, "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := uint64(len(events))
	s.received.Add(n)
	s.recv.Add(float64(n))
	s.qmu.RLock()
	for i := range events {
		if s.closed {
			s.dropped.Add(1)
			s.drop.Inc()
			continue
		}
		select {
		case s.queue <- &events[i]:
		default:
			s.dropped.Add(1)
			s.drop.Inc()
		}
	}
	s.qmu.RUnlock()
	s.depth.Set(float64(len(s.queue)))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) work() {
	defer s.wg.Done()
	for ev := range s.queue {
		s.process(ev)
		s.processed.Add(1)
	}
}

func (s *Server) logDrops() {
	defer close(s.logDone)
	t := time.NewTicker(s.opts.DropLogInterval)
	defer t.Stop()
	var last uint64
	report := func() {
		if d := s.dropped.Load(); d != last {
			s.opts.Log.Warn("audit webhook: queue full, events dropped", "dropped", d-last, "droppedTotal", d, "received", s.received.Load(), "queue", cap(s.queue))
			last = d
		}
	}
	for {
		select {
		case <-s.stopLog:
			report()
			return
		case <-t.C:
			report()
			s.depth.Set(float64(len(s.queue)))
		}
	}
}

// Counts are a server's event counters.
type Counts struct {
	// Received counts events decoded from requests.
	Received uint64
	// Processed counts events evaluated.
	Processed uint64
	// Dropped counts events dropped because the queue was full.
	Dropped uint64
	// Rejected counts request bodies that were not EventLists.
	Rejected uint64
}

// Counts returns the counters. Once the server has drained (Shutdown),
// Received == Processed + Dropped.
func (s *Server) Counts() Counts {
	return Counts{Received: s.received.Load(), Processed: s.processed.Load(), Dropped: s.dropped.Load(), Rejected: s.rejected.Load()}
}

// Serve serves HTTPS on ln with tlsConfig until Shutdown.
func (s *Server) Serve(ln net.Listener, tlsConfig *tls.Config) error {
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelDebug),
		TLSConfig:         tlsConfig,
	}
	err := s.srv.Serve(tls.NewListener(ln, tlsConfig))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests (waiting for those in flight until ctx
// ends), then lets the workers drain the queue and stops them.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.srv != nil {
		err = s.srv.Shutdown(ctx)
	}
	s.closing.Do(func() {
		s.qmu.Lock()
		s.closed = true
		close(s.queue)
		s.qmu.Unlock()
		s.wg.Wait()
		close(s.stopLog)
		<-s.logDone
		s.depth.Set(0)
	})
	if err != nil {
		return fmt.Errorf("audit webhook shutdown: %w", err)
	}
	return nil
}
