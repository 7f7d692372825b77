package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of Options.
const (
	// DefaultTimeout answers before the API server's default webhook
	// timeout (timeoutSeconds: 3 in the installed configuration).
	DefaultTimeout = 2500 * time.Millisecond
	// MaxReviewBytes bounds an AdmissionReview body: the API server caps
	// objects at 3 MiB, and a review carries the object and the old object.
	MaxReviewBytes = 16 << 20
	// DefaultCertReload is how often the serving certificate files are
	// checked for a rotated certificate.
	DefaultCertReload = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Timeout bounds one evaluation; 0 means DefaultTimeout.
	Timeout time.Duration
	// FailClosed denies requests whose evaluation times out; by default
	// they are allowed (as failurePolicy: Ignore does when the webhook is
	// unreachable).
	FailClosed bool
	// Log receives audit records and errors; nil discards them.
	Log *slog.Logger
	// Related reads the objects around a Service or Ingress for the
	// cross-object controls; nil evaluates per-object controls only.
	Related Related
	// Images enforces the image signature policy; nil for none.
	Images *ImagePolicy
}

// Server serves admission reviews at /validate, health at /healthz and
// /readyz, and metrics at /metrics.
type Server struct {
	handler Handler
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
	extra   map[string]http.Handler
}

// Handle adds an endpoint to the server's mux (for example the background
// audit's report). Call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) {
	if s.extra == nil {
		s.extra = map[string]http.Handler{}
	}
	s.extra[pattern] = h
}

// SetReady sets what /readyz answers (ready by default).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// NewServer builds the handler chain over ev with policy p. nsLabels may be
// nil (cluster defaults everywhere).
func NewServer(ev Evaluator, p *Policy, nsLabels NamespaceLabels, opts Options) *Server {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := NewMetrics()
	s := &Server{metrics: m, log: log}
	s.handler = Chain(Evaluate(ev, opts.Related, opts.Images, p, log, m),
		Recover(log, m),
		Measure(m),
		Timeout(opts.Timeout, opts.FailClosed, log, m),
		Filter(p, nsLabels, log),
	)
	s.ready.Store(true)
	return s
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Handler returns the HTTP handler with every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/validate", s)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	for p, h := range s.extra {
		mux.Handle(p, h)
	}
	return mux
}

// ServeHTTP answers one AdmissionReview (admission.k8s.io/v1).
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST an admission.k8s.io/v1 AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxReviewBytes+1))
	if err != nil {
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > MaxReviewBytes {
		http.Error(w, fmt.Sprintf("AdmissionReview larger than %d bytes", MaxReviewBytes), http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		if err == nil {
			err = errors.New("no request")
		}
		http.Error(w, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := s.handler(req.Context(), &Request{AdmissionRequest: review.Request})
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(&out); err != nil {
		s.log.Warn("encoding the admission response", "uid", review.Request.UID, "error", err)
		http.Error(w, "encoding the response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.Warn("writing the admission response", "uid", review.Request.UID, "error", err)
	}
}

// bufPool holds response buffers, so that encoding a response allocates no
// buffer per request.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Serve serves TLS on ln until ctx ends, then shuts down gracefully (it
// reports not ready first, so that the Service stops routing to it).
func (s *Server) Serve(ctx context.Context, ln net.Listener, certs *CertReloader) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.GetCertificate,
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// CertReloader serves a certificate pair from files and picks up a rotated
// pair without a restart: connections already open keep theirs, new ones
// get the new pair. A pair that fails to load is logged and the previous
// one is kept.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	stamp             string
}

// NewCertReloader loads the pair once; it fails when the files are not a
// valid pair.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Watch checks the files every interval until ctx ends and reloads them
// when they change.
func (r *CertReloader) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.fileStamp() == r.stamp {
				continue
			}
			if err := r.reload(); err != nil {
				r.log.Error("serving certificate not reloaded; keeping the previous one", "error", err)
				continue
			}
			r.log.Info("serving certificate reloaded", "cert", r.certFile)
		}
	}
}

func (r *CertReloader) reload() error {
	stamp := r.fileStamp()
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading serving certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&pair)
	r.stamp = stamp
	return nil
}

// fileStamp identifies the current content of both files (size and
// modification time; Kubernetes Secret volumes swap a symlink on update,
// which changes both).
func (r *CertReloader) fileStamp() string {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			s += "missing;"
			continue
		}
		s += fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}
