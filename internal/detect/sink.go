package detect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Sink delivers alerts somewhere.
type Sink interface {
	// Name identifies the sink in logs and metrics (stdout, file, webhook).
	Name() string
	// Send delivers one alert. It must not block the stream for long: a
	// slow destination queues (and counts what it drops).
	Send(a *Alert) error
	// Close delivers what is queued and releases the sink.
	Close() error
}

// JSONLines writes one JSON object per alert and line.
type JSONLines struct {
	mu   sync.Mutex
	name string
	w    *bufio.Writer
	c    io.Closer
}

// NewJSONLines returns a sink writing JSON lines to w (flushed after each
// alert); Close does not close w.
func NewJSONLines(name string, w io.Writer) *JSONLines {
	return &JSONLines{name: name, w: bufio.NewWriter(w)}
}

// OpenFile returns a sink appending JSON lines to the file at path,
// created with mode 0600 when missing.
func OpenFile(path string) (*JSONLines, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &JSONLines{name: "file", w: bufio.NewWriter(f), c: f}, nil
}

// Name implements Sink.
func (s *JSONLines) Name() string { return s.name }

// Send implements Sink.
func (s *JSONLines) Send(a *Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return s.w.Flush()
}

// Close implements Sink.
func (s *JSONLines) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.w.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// WebhookOptions configure a webhook sink.
type WebhookOptions struct {
	// Slack sends {"text": "..."} (Slack-compatible incoming webhooks)
	// instead of the alert's JSON.
	Slack bool
	// Client is the HTTP client (its TLS configuration decides which
	// servers are trusted); nil means a client with a 10 s timeout.
	Client *http.Client
	// Attempts bounds the deliveries of one alert (default 5).
	Attempts int
	// Backoff is the first retry delay, doubled after each failure up to
	// MaxBackoff (defaults 500 ms and 10 s).
	Backoff, MaxBackoff time.Duration
	// Queue bounds the alerts waiting for delivery (default 1000); when
	// full, alerts are dropped and counted.
	Queue int
	// AllowHTTP permits a plain http:// URL (tests, loopback relays);
	// otherwise the URL must be https.
	AllowHTTP bool
	// Log receives delivery failures.
	Log *slog.Logger
	// OnDrop is called for each alert dropped (queue full or attempts
	// exhausted).
	OnDrop func()
}

// Webhook POSTs alerts as JSON to a URL from a queue, retrying with
// exponential backoff.
type Webhook struct {
	url    string
	opts   WebhookOptions
	queue  chan *Alert
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
}

// NewWebhook starts a webhook sink posting to rawURL.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webhook sink: %q is not a URL", redactURL(rawURL))
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !opts.AllowHTTP) {
		return nil, fmt.Errorf("webhook sink %s: the URL must be https", redactURL(rawURL))
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}}
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Queue <= 0 {
		opts.Queue = 1000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Webhook{url: rawURL, opts: opts, queue: make(chan *Alert, opts.Queue), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go w.run()
	return w, nil
}

// redactURL drops the user information, path and query of a URL (webhook
// URLs often carry a token in the path).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook" }

// Send implements Sink: it queues the alert, or drops it when the queue is
// full.
func (w *Webhook) Send(a *Alert) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("webhook sink closed")
	}
	select {
	case w.queue <- a:
		return nil
	default:
		w.drop()
		return errors.New("webhook sink queue full: alert dropped")
	}
}

func (w *Webhook) drop() {
	if w.opts.OnDrop != nil {
		w.opts.OnDrop()
	}
}

func (w *Webhook) run() {
	defer close(w.done)
	for a := range w.queue {
		if err := w.deliver(a); err != nil {
			w.drop()
			w.opts.Log.Error("webhook sink: alert dropped", "url", redactURL(w.url), "rule", a.Rule, "error", err)
		}
	}
}

// Body returns what the sink posts for a.
func (w *Webhook) Body(a *Alert) ([]byte, error) {
	if w.opts.Slack {
		return json.Marshal(map[string]string{"text": SlackText(a)})
	}
	return json.Marshal(a)
}

// SlackText formats an alert as one Slack message.
func SlackText(a *Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*[%s] %s* (%s)\n%s", strings.ToUpper(a.Severity), a.Title, a.Rule, a.Output)
	if a.Count > 1 {
		fmt.Fprintf(&b, "\n×%d since %s", a.Count, a.FirstSeen.UTC().Format(time.RFC3339))
	}
	c := a.Context
	var ctx []string
	add := func(k, v string) {
		if v != "" {
			ctx = append(ctx, k+": "+v)
		}
	}
	add("namespace", c.Namespace)
	add("pod", c.Pod)
	if c.WorkloadKind != "" {
		add("workload", c.WorkloadKind+"/"+c.WorkloadName)
	}
	add("image", c.Image)
	add("serviceAccount", c.ServiceAccount)
	add("risks", strings.Join(c.ServiceAccountRisks, "; "))
	add("exposure", strings.Join(c.Exposure, ", "))
	if len(ctx) > 0 {
		b.WriteString("\n" + strings.Join(ctx, " | "))
	}
	if len(a.MITRE) > 0 {
		b.WriteString("\nMITRE ATT&CK: " + strings.Join(a.MITRE, ", "))
	}
	return b.String()
}

func (w *Webhook) deliver(a *Alert) error {
	body, err := w.Body(a)
	if err != nil {
		return err
	}
	delay := w.opts.Backoff
	var last error
	for attempt := 1; attempt <= w.opts.Attempts; attempt++ {
		if last = w.post(body); last == nil {
			return nil
		}
		if attempt == w.opts.Attempts {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (shutting down after %d attempts)", last, attempt)
		}
		delay = min(delay*2, w.opts.MaxBackoff)
	}
	return fmt.Errorf("%w (after %d attempts)", last, w.opts.Attempts)
}

func (w *Webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("POST %s: %w", redactURL(w.url), ue.Err)
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d", redactURL(w.url), resp.StatusCode)
	}
	return nil
}

// Close implements Sink: it delivers the queued alerts, giving up on
// retries after timeout 30 s.
func (w *Webhook) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.queue)
	w.mu.Unlock()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		w.cancel()
		<-w.done
	}
	w.cancel()
	return nil
}
