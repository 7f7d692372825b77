package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/report"
)

// Defaults of Options.
const (
	DefaultRate           = 500
	DefaultConcurrency    = 64
	DefaultConnectTimeout = 2 * time.Second
	DefaultTimeout        = 5 * time.Second
	// DefaultMetadataURL is the link-local cloud metadata service.
	DefaultMetadataURL = "http://169.254.169.254"
)

// Options configure a Prober.
type Options struct {
	// Ports replaces the default ports of each service when not empty.
	Ports []int
	// Services limits the probes to these services (see ServiceNames);
	// empty means all.
	Services []string
	// Rate is the most network operations (connections and requests)
	// per second, over all targets.
	Rate float64
	// Concurrency is how many endpoints are probed at once.
	Concurrency int
	// ConnectTimeout bounds a TCP connect and a TLS handshake.
	ConnectTimeout time.Duration
	// Timeout bounds one request, from sending it to the last body byte.
	Timeout time.Duration
	// Metadata also probes the cloud metadata service at MetadataURL.
	Metadata bool
	// MetadataURL is the metadata service (DefaultMetadataURL when
	// empty; tests point it at a loopback stand-in).
	MetadataURL string
}

// Stats count what a run touched; closed ports and unidentified open
// ports produce no result, so they are only counted here.
type Stats struct {
	// Hosts is the number of distinct hosts.
	Hosts int
	// Endpoints is the number of host:port pairs tried.
	Endpoints int
	// Open is how many accepted a TCP connection.
	Open int
	// Identified is how many answered as one of the known services.
	Identified int
}

// Outcome is what a run found.
type Outcome struct {
	// Results are the check results of the identified services.
	Results []audit.Result
	// Errors are open endpoints that could not be probed at all.
	Errors []report.InputError
	// Stats count the endpoints.
	Stats Stats
}

// Prober probes network endpoints.
type Prober struct {
	o      Options
	checks map[string]*audit.Check
	lim    *rate.Limiter
}

// New returns a Prober with o, defaults filled in.
func New(o Options) (*Prober, error) {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MetadataURL == "" {
		o.MetadataURL = DefaultMetadataURL
	}
	for _, p := range o.Ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("port %d out of range", p)
		}
	}
	for _, s := range o.Services {
		if serviceByName(s) == nil {
			return nil, fmt.Errorf("unknown service %q (want one of %v)", s, ServiceNames())
		}
	}
	checks, err := Checks()
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*audit.Check, len(checks))
	for _, c := range checks {
		byID[c.ID] = c
	}
	burst := max(1, int(o.Rate/10))
	return &Prober{o: o, checks: byID, lim: rate.NewLimiter(rate.Limit(o.Rate), burst)}, nil
}

// job is one endpoint to probe with its candidate services.
type job struct {
	host     string
	port     int
	scheme   string
	services []*service
	// known is true when the port is a default port of the candidates:
	// failures are then reported as error results of the service.
	known bool
}

// Run probes targets and returns what answered.
func (p *Prober) Run(ctx context.Context, targets []Target) *Outcome {
	jobs := p.plan(targets)
	out := &Outcome{}
	hosts := map[string]bool{}
	for _, j := range jobs {
		hosts[j.host] = true
	}
	out.Stats.Hosts = len(hosts)
	out.Stats.Endpoints = len(jobs)

	var (
		mu         sync.Mutex
		open, idnt atomic.Int64
		next       atomic.Int64
		wg         sync.WaitGroup
	)
	workers := min(p.o.Concurrency, len(jobs))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				res, ierr, isOpen, ok := p.probeEndpoint(ctx, &jobs[i])
				if isOpen {
					open.Add(1)
				}
				if ok {
					idnt.Add(1)
				}
				mu.Lock()
				out.Results = append(out.Results, res...)
				if ierr != nil {
					out.Errors = append(out.Errors, *ierr)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if p.o.Metadata {
		out.Results = append(out.Results, p.probeMetadata(ctx)...)
	}
	out.Stats.Open = int(open.Load())
	out.Stats.Identified = int(idnt.Load())
	slices.SortFunc(out.Errors, func(a, b report.InputError) int {
		switch {
		case a.File < b.File:
			return -1
		case a.File > b.File:
			return 1
		}
		return 0
	})
	return out
}

// plan lists the endpoints of targets: a target with a port is probed on
// that port only, by the services that listen there by default or, on any
// other port, by every service; a target without one on the services'
// default ports (or Options.Ports).
func (p *Prober) plan(targets []Target) []job {
	svcs := p.selected()
	var jobs []job
	seen := map[string]bool{}
	add := func(j job) {
		k := j.scheme + "|" + addr(j.host, j.port)
		if !seen[k] && len(j.services) > 0 {
			seen[k] = true
			jobs = append(jobs, j)
		}
	}
	portsOf := func() []int {
		if len(p.o.Ports) > 0 {
			return p.o.Ports
		}
		var ps []int
		for _, s := range svcs {
			for _, pt := range s.ports {
				if !slices.Contains(ps, pt) {
					ps = append(ps, pt)
				}
			}
		}
		slices.Sort(ps)
		return ps
	}()
	for _, t := range targets {
		if t.Port != 0 {
			cands, known := candidates(svcs, t.Port)
			add(job{host: t.Host, port: t.Port, scheme: t.Scheme, services: cands, known: known})
			continue
		}
		for _, pt := range portsOf {
			cands, known := candidates(svcs, pt)
			add(job{host: t.Host, port: pt, services: cands, known: known})
		}
	}
	return jobs
}

func candidates(svcs []*service, port int) ([]*service, bool) {
	var out []*service
	for _, s := range svcs {
		if slices.Contains(s.ports, port) {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		return out, true
	}
	return svcs, len(svcs) == 1
}

func (p *Prober) selected() []*service {
	if len(p.o.Services) == 0 {
		return services
	}
	var out []*service
	for _, s := range services {
		if slices.Contains(p.o.Services, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// probeEndpoint connects to one endpoint, picks its scheme and runs the
// candidate probes. It returns their results, an input error when an open
// endpoint could not be probed and is not a known service port, whether
// it was open and whether a service was identified.
func (p *Prober) probeEndpoint(ctx context.Context, j *job) ([]audit.Result, *report.InputError, bool, bool) {
	scheme, err := p.detect(ctx, j)
	if err != nil {
		return nil, nil, false, false // closed, filtered or unresolvable: not a finding
	}
	e := newEndpoint(j.host, j.port, scheme, &p.o, p.lim)
	defer e.close()
	pc := &pctx{ctx: ctx, e: e, p: p, single: len(j.services) == 1}
	identified := false
	for _, s := range j.services {
		if s.probe(pc) {
			identified = true
		}
	}
	if identified {
		return pc.out, nil, true, true
	}
	e.mu.Lock()
	broken := e.broken
	e.mu.Unlock()
	if broken == nil {
		return nil, nil, true, false // open, but none of the known services
	}
	if j.known {
		s := j.services[0]
		pc.add(s.primary, control.StatusError, 0, nil, e.base, describeOnly(broken), "no answer")
		return pc.out, nil, true, false
	}
	return nil, &report.InputError{File: e.base, Message: "could not be probed: " + describeOnly(broken)}, true, false
}

func describeOnly(err error) string {
	var te *transportError
	if errors.As(err, &te) {
		return te.msg
	}
	return err.Error()
}

// detect connects once (waiting on the rate limiter) and tries a TLS
// handshake: https when it completes or the server demands a client
// certificate, http otherwise. A target URL's scheme wins. The error is
// non-nil only when the port does not accept a connection.
func (p *Prober) detect(ctx context.Context, j *job) (string, error) {
	if err := p.lim.Wait(ctx); err != nil {
		return "", err
	}
	d := net.Dialer{Timeout: p.o.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr(j.host, j.port))
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if j.scheme != "" {
		return j.scheme, nil
	}
	_ = conn.SetDeadline(time.Now().Add(p.o.ConnectTimeout))
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: serverName(j.host)}) //nolint:gosec // see endpoint
	herr := tc.HandshakeContext(ctx)
	var alert tls.AlertError
	if herr == nil || errors.As(herr, &alert) {
		return "https", nil
	}
	return "http", nil
}

func serverName(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// pctx carries one endpoint's probing and collects its results.
type pctx struct {
	ctx context.Context
	e   *endpoint
	p   *Prober
	out []audit.Result
	// single is true when only one service was asked for on the
	// endpoint, so an answer that proves nothing else (a TLS server
	// demanding a client certificate) is taken as that service.
	single bool
}

// add records a result of check id on the endpoint. sev zero keeps the
// check's severity; evidence "" leaves Evidence out.
func (c *pctx) add(id string, st control.Status, sev control.Severity, r *response, loc, msg, evidence string) {
	chk := c.p.checks[id]
	if chk == nil {
		panic("probe: unknown check " + id) // a programming error, caught by tests
	}
	if r != nil {
		loc = r.url
	}
	res := audit.Result{
		Check:    chk,
		Target:   k8s.Ref{Kind: "Endpoint", Name: c.e.base},
		Source:   k8s.Source{File: loc},
		Status:   st,
		Severity: sev,
		Message:  msg,
	}
	if evidence != "" {
		res.Evidence = &report.Evidence{Value: evidence, Origin: "response", Location: loc}
	}
	c.out = append(c.out, res)
}

// pass records a pass, fail a failure, with the answer r as evidence.
func (c *pctx) pass(id string, r *response, msg, ev string) {
	c.add(id, control.StatusPass, 0, r, "", msg, ev)
}

func (c *pctx) fail(id string, sev control.Severity, r *response, msg, ev string) {
	c.add(id, control.StatusFail, sev, r, "", msg, ev)
}

// errResult records that check id could not be decided because of err.
func (c *pctx) errResult(id, path string, err error) {
	c.add(id, control.StatusError, 0, nil, c.e.base+path, describeOnly(err), "")
}

// httpEv renders a status code and proving fields as evidence.
func httpEv(r *response, fields ...string) string {
	s := fmt.Sprintf("HTTP %d", r.status)
	for i := 0; i+1 < len(fields); i += 2 {
		s += "; " + fields[i] + "=" + clip(fields[i+1], 80)
	}
	if r.truncated {
		s += "; body truncated"
	}
	return s
}
