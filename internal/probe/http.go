package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Body caps: most answers are small JSON documents; a kubelet's PodList
// grows with the pods on the node.
const (
	smallBody = 256 << 10
	podsBody  = 8 << 20
)

// endpoint is one host:port being probed, with a client pinned to it.
type endpoint struct {
	host   string
	port   int
	scheme string
	// base is scheme://host:port, the endpoint's name in results.
	base   string
	client *http.Client
	tr     *http.Transport
	lim    *rate.Limiter
	total  time.Duration
	// certRequested records that the TLS server asked for a client
	// certificate (the probe never has one to give).
	certRequested atomic.Bool
	mu            sync.Mutex
	// broken is the first transport failure; later requests fail with it
	// at once, so a stalled peer costs one deadline, not one per probe.
	broken error
}

// response is one answer, with its body read up to a cap.
type response struct {
	url       string
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

func addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func newEndpoint(host string, port int, scheme string, o *Options, lim *rate.Limiter) *endpoint {
	e := &endpoint{host: host, port: port, scheme: scheme, lim: lim, total: o.Timeout}
	e.base = scheme + "://" + addr(host, port)
	target := addr(host, port)
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	e.tr = &http.Transport{
		Proxy: nil, // never through HTTP(S)_PROXY: only the named endpoint is contacted
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, target) // pinned to the endpoint
		},
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // an attacker does not verify either; the probe reports what answers
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				e.certRequested.Store(true)
				return &tls.Certificate{}, nil
			},
		},
		TLSHandshakeTimeout:    o.ConnectTimeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
	e.client = &http.Client{
		Transport: e.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // never followed; reported instead
		},
	}
	return e
}

func (e *endpoint) close() { e.tr.CloseIdleConnections() }

// get fetches path with GET.
func (e *endpoint) get(ctx context.Context, path string, limit int64, hdr ...string) (*response, error) {
	return e.do(ctx, http.MethodGet, path, nil, limit, hdr...)
}

// do sends one request (waiting on the rate limiter first) and reads the
// answer within the endpoint's total deadline. hdr holds header name and
// value pairs.
func (e *endpoint) do(ctx context.Context, method, path string, body []byte, limit int64, hdr ...string) (*response, error) {
	u := e.base + path
	e.mu.Lock()
	broken := e.broken
	e.mu.Unlock()
	if broken != nil {
		return nil, broken
	}
	if err := e.lim.Wait(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.total)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	req.Header.Set("User-Agent", "rampart-probe")
	req.Header.Set("Accept", "application/json, */*")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, e.fail(u, err, 0)
	}
	defer func() { _ = resp.Body.Close() }()
	if loc, lerr := resp.Location(); lerr == nil && resp.StatusCode/100 == 3 && loc.Host != addr(e.host, e.port) && loc.Host != e.host {
		// Another host: never followed, and nothing this endpoint says
		// can be trusted to be its own.
		return nil, e.fail(u, &redirectError{to: redactURL(loc)}, 0)
	}
	r := &response{url: u, status: resp.StatusCode, header: resp.Header}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, e.fail(u, err, len(data))
	}
	if int64(len(data)) > limit {
		data, r.truncated = data[:limit], true
	}
	r.body = data
	return r, nil
}

// fail turns a transport error into a one-line error naming the URL and
// marks the endpoint broken.
func (e *endpoint) fail(u string, err error, n int) error {
	err = &transportError{url: u, msg: describe(err, e.total, n), err: err}
	e.mu.Lock()
	if e.broken == nil {
		e.broken = err
	}
	e.mu.Unlock()
	return err
}

// redirectError is an answer redirecting to another host.
type redirectError struct{ to string }

func (r *redirectError) Error() string { return "redirect to " + r.to + " not followed (another host)" }

// transportError is a failure to get a complete answer from an endpoint.
type transportError struct {
	url string
	msg string
	err error
}

func (t *transportError) Error() string { return t.url + ": " + t.msg }
func (t *transportError) Unwrap() error { return t.err }

// describe says in words why a request failed.
func describe(err error, total time.Duration, n int) string {
	var alert tls.AlertError
	var rh tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		if n > 0 {
			return fmt.Sprintf("no complete answer within %s (slow or stalled peer; %d body bytes read)", total, n)
		}
		return fmt.Sprintf("no complete answer within %s (slow or stalled peer)", total)
	case errors.As(err, &alert):
		return "TLS alert from the server: " + alert.Error()
	case errors.As(err, &rh):
		return "not a TLS server (first bytes are not a TLS record)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection closed before a complete answer"
	}
	var re *redirectError
	if errors.As(err, &re) {
		return re.Error()
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return "TLS certificate rejected: " + ce.Error()
	}
	msg := err.Error()
	if ue := errors.Unwrap(err); ue != nil {
		msg = ue.Error()
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// certRequired reports whether err is a TLS server refusing to go on
// without a client certificate.
func (e *endpoint) certRequired(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		// bad_certificate (42), handshake_failure (40), certificate_required (116)
		return alert == 42 || alert == 40 || alert == 116 || e.certRequested.Load()
	}
	return e.certRequested.Load() && err != nil
}
