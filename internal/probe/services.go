package probe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
)

// service is one kind of network service the prober knows.
type service struct {
	// name is the --services name.
	name string
	// ports are the service's usual ports.
	ports []int
	// primary is the check that reports a failure to probe the service.
	primary string
	// probe runs the service's probes on an endpoint, adding results to
	// pc, and reports whether the endpoint answered as this service.
	probe func(pc *pctx) bool
}

// services are probed in this order on ports that are not the default of
// any of them.
var services = []*service{
	{name: "apiserver", ports: []int{6443, 443}, primary: "probe-apiserver-anonymous", probe: probeAPIServer},
	{name: "insecure-port", ports: []int{8080}, primary: "probe-apiserver-insecure-port", probe: probeInsecurePort},
	{name: "kubelet", ports: []int{10250}, primary: "probe-kubelet-anonymous", probe: probeKubelet},
	{name: "kubelet-readonly", ports: []int{10255}, primary: "probe-kubelet-readonly-port", probe: probeKubeletReadOnly},
	{name: "etcd", ports: []int{2379}, primary: "probe-etcd-no-client-auth", probe: probeEtcd},
	{name: "docker", ports: []int{2375}, primary: "probe-docker-api-exposed", probe: probeDocker},
	{name: "kubectl-proxy", ports: []int{8001}, primary: "probe-kubectl-proxy-exposed", probe: probeKubectlProxy},
	{name: "dashboard", ports: []int{8443, 9090, 443}, primary: "probe-dashboard-no-login", probe: probeDashboard},
	{name: "argo-server", ports: []int{2746}, primary: "probe-argo-server-no-auth", probe: probeArgo},
}

// ServiceNames lists the services the prober knows, for --services.
func ServiceNames() []string {
	out := make([]string, len(services))
	for i, s := range services {
		out[i] = s.name
	}
	return out
}

func serviceByName(n string) *service {
	for _, s := range services {
		if s.name == n {
			return s
		}
	}
	return nil
}

// isKubeStatus reports whether r is a Kubernetes API Status object
// (what the API server answers to a refused request).
func isKubeStatus(r *response) (kubeStatus, bool) {
	var st kubeStatus
	return st, decode(r.body, &st) && st.Kind == "Status"
}

// ---- API server ----

// probeAPIServer asks the API server, anonymously, for /version, /api, a
// SelfSubjectRulesReview and two lists, and decides what system:anonymous
// can do.
func probeAPIServer(pc *pctx) bool {
	if pc.e.scheme != "https" {
		return false // the secure port is TLS; HTTP is the insecure port's probe
	}
	ver, err := pc.e.get(pc.ctx, "/version", smallBody)
	if err != nil {
		return false
	}
	var vi versionInfo
	_, isStatus := isKubeStatus(ver)
	switch {
	case ver.status == http.StatusOK && decode(ver.body, &vi) && vi.GitVersion != "":
		pc.fail("probe-apiserver-version", 0, ver, "the API server tells anyone its version "+clip(vi.GitVersion, 40), httpEv(ver, ".gitVersion", vi.GitVersion))
	case (ver.status == http.StatusUnauthorized || ver.status == http.StatusForbidden) && isStatus:
		pc.pass("probe-apiserver-version", ver, "/version needs credentials", httpEv(ver))
	default:
		return false // not a Kubernetes API server
	}

	api, err := pc.e.get(pc.ctx, "/api", smallBody)
	if err != nil {
		pc.errResult("probe-apiserver-anonymous", "/api", err)
		return true
	}
	if api.status == http.StatusUnauthorized && ver.status == http.StatusUnauthorized {
		pc.pass("probe-apiserver-anonymous", api, "anonymous requests are rejected (anonymous authentication is off)", httpEv(api))
		return true
	}
	var av apiVersions
	discover := api.status == http.StatusOK && decode(api.body, &av) && av.Kind == "APIVersions"

	// What may system:anonymous do? A SelfSubjectRulesReview only asks.
	var rules, dangerous []string
	const ssrr = `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}`
	rev, rerr := pc.e.do(pc.ctx, http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", []byte(ssrr), smallBody)
	var rr rulesReview
	if rerr == nil && rev.status == http.StatusCreated && decode(rev.body, &rr) {
		rules, dangerous = dangerousRules(&rr)
	}
	var listed []string
	var listResp *response
	for _, path := range []string{"/api/v1/namespaces?limit=1", "/api/v1/pods?limit=1"} {
		lr, err := pc.e.get(pc.ctx, path, podsBody)
		if err != nil {
			break
		}
		var lm listMeta
		if lr.status == http.StatusOK && decode(lr.body, &lm) && strings.HasSuffix(lm.Kind, "List") {
			listed = append(listed, strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/"), "?limit=1"))
			listResp = lr
		}
	}
	switch {
	case len(dangerous) > 0:
		pc.fail("probe-apiserver-anonymous", control.SeverityCritical, rev,
			"system:anonymous holds dangerous rights in namespace default: "+clip(strings.Join(dangerous, "; "), 200),
			httpEv(rev, ".status.resourceRules", strings.Join(dangerous, "; ")))
	case len(listed) > 0:
		pc.fail("probe-apiserver-anonymous", control.SeverityCritical, listResp,
			"system:anonymous can list "+strings.Join(listed, " and "),
			httpEv(listResp, "listed", strings.Join(listed, ",")))
	case len(rules) > 0:
		pc.fail("probe-apiserver-anonymous", control.SeverityHigh, rev,
			"system:anonymous holds RBAC rights in namespace default: "+clip(strings.Join(rules, "; "), 200),
			httpEv(rev, ".status.resourceRules", strings.Join(rules, "; ")))
	case discover:
		pc.fail("probe-apiserver-anonymous", control.SeverityHigh, api,
			"anonymous requests can read API discovery (/api)", httpEv(api, ".kind", av.Kind, ".versions", strings.Join(av.Versions, ",")))
	default:
		pc.add("probe-apiserver-anonymous", control.StatusWarn, control.SeverityMedium, api, "",
			"anonymous authentication is on; RBAC refuses system:anonymous beyond the public endpoints", httpEv(api))
	}
	return true
}

// probeInsecurePort looks for the API served over plain HTTP without
// authentication (--insecure-port, removed in 1.24 but still met).
func probeInsecurePort(pc *pctx) bool {
	if pc.e.scheme != "http" {
		return false
	}
	api, err := pc.e.get(pc.ctx, "/api", smallBody)
	if err != nil {
		return false
	}
	var av apiVersions
	if api.status != http.StatusOK || !decode(api.body, &av) || av.Kind != "APIVersions" {
		return false
	}
	if isKubectlProxy(pc) {
		return false // the kubectl proxy probe reports it
	}
	ev := httpEv(api, ".kind", av.Kind)
	if v, err := pc.e.get(pc.ctx, "/version", smallBody); err == nil {
		var vi versionInfo
		if v.status == http.StatusOK && decode(v.body, &vi) && vi.GitVersion != "" {
			ev += "; /version .gitVersion=" + clip(vi.GitVersion, 40)
		}
	}
	pc.fail("probe-apiserver-insecure-port", 0, api, "the Kubernetes API answers over plain HTTP without authentication", ev)
	return true
}

// isKubectlProxy recognises kubectl proxy by its request filter: it
// answers an exec path itself with a plain-text 403 instead of passing it
// on (the request names a pod that does not exist and asks no upgrade, so
// nothing runs even when it is passed on).
func isKubectlProxy(pc *pctx) bool {
	r, err := pc.e.get(pc.ctx, "/api/v1/namespaces/rampart-probe/pods/rampart-probe-nonexistent/exec", smallBody)
	if err != nil {
		return false
	}
	_, st := isKubeStatus(r)
	return r.status == http.StatusForbidden && !st && strings.HasPrefix(strings.TrimSpace(string(r.body)), "Forbidden")
}

// probeKubectlProxy reports a kubectl proxy reachable from the network:
// it forwards every request with the credentials of whoever started it.
func probeKubectlProxy(pc *pctx) bool {
	if pc.e.scheme != "http" {
		return false
	}
	api, err := pc.e.get(pc.ctx, "/api", smallBody)
	if err != nil {
		return false
	}
	var av apiVersions
	if api.status != http.StatusOK || !decode(api.body, &av) || av.Kind != "APIVersions" || !isKubectlProxy(pc) {
		return false
	}
	pc.fail("probe-kubectl-proxy-exposed", 0, api, "a kubectl proxy serves the API without authentication, with its user's credentials",
		httpEv(api, ".kind", av.Kind)+"; exec paths refused by the proxy filter")
	return true
}

// ---- kubelet ----

// kubeletRefusal recognises the kubelet's own refusals: a plain-text
// "Unauthorized" (anonymous authentication off) or "Forbidden (user=...".
func kubeletRefusal(r *response) (bool, string) {
	b := strings.TrimSpace(string(r.body))
	switch {
	case r.status == http.StatusUnauthorized && strings.HasPrefix(b, "Unauthorized"):
		return true, "anonymous requests are rejected (authentication required)"
	case r.status == http.StatusForbidden && strings.HasPrefix(b, "Forbidden"):
		return true, "anonymous requests are authenticated but not authorized"
	}
	return false, ""
}

const nonexistentPod = "/rampart-probe/rampart-probe-nonexistent/rampart-probe"

// probeKubelet asks the kubelet's authenticated port, without
// credentials, for /pods, /runningpods/, the exec handler (for a pod that
// does not exist, without an upgrade), /healthz, /logs/ and the pprof
// command line.
func probeKubelet(pc *pctx) bool {
	if pc.e.scheme != "https" {
		return false
	}
	pods, err := pc.e.get(pc.ctx, "/pods", podsBody)
	if err != nil {
		return false
	}
	var pl podList
	refused, why := kubeletRefusal(pods)
	open := pods.status == http.StatusOK && decode(pods.body, &pl) && pl.Kind == "PodList"
	if !open && !refused {
		return false
	}
	if refused {
		pc.pass("probe-kubelet-anonymous", pods, why, httpEv(pods))
	} else {
		ev := httpEv(pods, ".kind", pl.Kind, ".items", strconv.Itoa(len(pl.Items)))
		if rp, err := pc.e.get(pc.ctx, "/runningpods/", podsBody); err == nil && rp.status == http.StatusOK {
			ev += "; /runningpods/ HTTP 200"
		}
		pc.fail("probe-kubelet-anonymous", 0, pods, fmt.Sprintf("the kubelet lists its %d pods to anyone", len(pl.Items)), ev)
		if priv := privilegedContainers(&pl); len(priv) > 0 {
			pc.fail("probe-kubelet-privileged-containers", 0, pods,
				fmt.Sprintf("%d privileged containers are listed by an unauthenticated kubelet: %s", len(priv), clip(strings.Join(priv, ", "), 200)),
				httpEv(pods, "privileged", strings.Join(priv, ",")))
		} else {
			pc.pass("probe-kubelet-privileged-containers", pods, "no privileged container among the listed pods", httpEv(pods, "privileged", "none"))
		}
	}
	kubeletHandler(pc, "probe-kubelet-exec", "/exec"+nonexistentPod+"?command=true&stdout=true",
		"exec (and run, attach, port-forward: same nodes/proxy authorization) is authorized for anonymous callers; no command ran (the pod named does not exist)")
	kubeletHandler(pc, "probe-kubelet-healthz", "/healthz", "the kubelet tells anyone its health")
	kubeletHandler(pc, "probe-kubelet-system-logs", "/logs/", "the node's /var/log is browsable without credentials")
	kubeletHandler(pc, "probe-kubelet-cmdline", "/debug/pprof/cmdline", "the kubelet's command line (flags, file paths) is readable without credentials")
	return true
}

// kubeletHandler decides one check from the kubelet's answer to path: a
// kubelet refusal passes; any other answer means authorization let the
// request through to the handler.
func kubeletHandler(pc *pctx, id, path, failMsg string) {
	r, err := pc.e.get(pc.ctx, path, smallBody)
	if err != nil {
		pc.errResult(id, path, err)
		return
	}
	if refused, why := kubeletRefusal(r); refused {
		pc.pass(id, r, why, httpEv(r))
		return
	}
	if r.status == http.StatusNotFound && id != "probe-kubelet-exec" {
		pc.pass(id, r, "the handler is not served", httpEv(r))
		return
	}
	pc.fail(id, 0, r, failMsg, httpEv(r, "body", firstLine(r.body)))
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return clip(string(b), 60)
}

// probeKubeletReadOnly reads /pods from the read-only port (10255), which
// has no authentication at all.
func probeKubeletReadOnly(pc *pctx) bool {
	if pc.e.scheme != "http" {
		return false
	}
	pods, err := pc.e.get(pc.ctx, "/pods", podsBody)
	if err != nil {
		return false
	}
	var pl podList
	if pods.status != http.StatusOK || !decode(pods.body, &pl) || pl.Kind != "PodList" {
		return false
	}
	msg := fmt.Sprintf("the kubelet read-only port lists its %d pods to anyone", len(pl.Items))
	if priv := privilegedContainers(&pl); len(priv) > 0 {
		msg += fmt.Sprintf(", %d of their containers privileged", len(priv))
	}
	pc.fail("probe-kubelet-readonly-port", 0, pods, msg, httpEv(pods, ".kind", pl.Kind, ".items", strconv.Itoa(len(pl.Items))))
	return true
}

// ---- etcd ----

// probeEtcd asks etcd for /version and, through the v3 gRPC gateway, for
// the number of keys (count_only: no key or value is returned). TLS that
// demands a client certificate passes.
func probeEtcd(pc *pctx) bool {
	ver, err := pc.e.get(pc.ctx, "/version", smallBody)
	if err != nil {
		if pc.e.scheme == "https" && pc.e.certRequired(err) && (pc.e.port == 2379 || pc.single) {
			msg := "TLS demands a client certificate; the probe has none"
			ev := "TLS handshake: client certificate requested; " + describeOnly(err)
			pc.add("probe-etcd-no-client-auth", control.StatusPass, 0, nil, pc.e.base+"/version", msg, ev)
			pc.add("probe-etcd-version", control.StatusPass, 0, nil, pc.e.base+"/version", msg, ev)
			pc.add("probe-etcd-insecure-http", control.StatusPass, 0, nil, pc.e.base+"/version", "etcd is served over TLS", ev)
			return true
		}
		return false
	}
	var v etcdVersion
	if ver.status != http.StatusOK || !decode(ver.body, &v) || v.Server == "" {
		return false
	}
	pc.fail("probe-etcd-version", 0, ver, "etcd tells anyone its version "+clip(v.Server, 40), httpEv(ver, ".etcdserver", v.Server))
	if pc.e.scheme == "http" {
		pc.fail("probe-etcd-insecure-http", 0, ver, "etcd is served over plain HTTP: no TLS, no client certificates", httpEv(ver, ".etcdserver", v.Server))
	} else {
		pc.pass("probe-etcd-insecure-http", ver, "etcd is served over TLS", httpEv(ver))
	}
	// key "\x00" with range_end "\x00": every key; count_only returns none.
	const rangeReq = `{"key":"AA==","range_end":"AA==","count_only":true}`
	rr, err := pc.e.do(pc.ctx, http.MethodPost, "/v3/kv/range", []byte(rangeReq), smallBody)
	if err != nil {
		pc.errResult("probe-etcd-no-client-auth", "/v3/kv/range", err)
		return true
	}
	var er etcdRange
	if rr.status == http.StatusOK && decode(rr.body, &er) && er.Header != nil {
		n := er.Count
		if n == "" {
			n = "0"
		}
		pc.fail("probe-etcd-no-client-auth", 0, rr, "etcd lets anyone without a client certificate read its keys ("+clip(n, 20)+" keys counted; none read)", httpEv(rr, ".count", n))
		return true
	}
	pc.pass("probe-etcd-no-client-auth", rr, "etcd refuses to range over keys without credentials", httpEv(rr, "body", firstLine(rr.body)))
	return true
}

// ---- Docker ----

// probeDocker asks the Docker Engine API for /version and
// /containers/json.
func probeDocker(pc *pctx) bool {
	ver, err := pc.e.get(pc.ctx, "/version", smallBody)
	if err != nil {
		return false
	}
	var dv dockerVersion
	if ver.status != http.StatusOK || !decode(ver.body, &dv) || dv.APIVersion == "" {
		return false
	}
	ev := httpEv(ver, ".Version", dv.Version, ".ApiVersion", dv.APIVersion)
	if cs, err := pc.e.get(pc.ctx, "/containers/json", podsBody); err == nil && cs.status == http.StatusOK {
		var list []struct{}
		if decode(cs.body, &list) {
			ev += "; /containers/json HTTP 200; containers=" + strconv.Itoa(len(list))
		}
	}
	pc.fail("probe-docker-api-exposed", 0, ver, "the Docker Engine API answers without authentication: root on the host for anyone who reaches it", ev)
	return true
}

// ---- Kubernetes Dashboard ----

// probeDashboard asks the Dashboard's API whether login can be skipped
// and whether it serves cluster data without a token.
func probeDashboard(pc *pctx) bool {
	modes, err := pc.e.get(pc.ctx, "/api/v1/login/modes", smallBody)
	if err != nil {
		return false
	}
	var dm dashboardModes
	if modes.status != http.StatusOK || !decode(modes.body, &dm) || dm.Modes == nil {
		return false
	}
	if sk, err := pc.e.get(pc.ctx, "/api/v1/login/skippable", smallBody); err == nil {
		var s dashboardSkippable
		if sk.status == http.StatusOK && decode(sk.body, &s) && s.Skippable != nil && *s.Skippable {
			pc.fail("probe-dashboard-no-login", 0, sk, "the Dashboard offers to skip login (--enable-skip-login): anyone acts as its ServiceAccount", httpEv(sk, ".skippable", "true"))
			return true
		}
	}
	ns, err := pc.e.get(pc.ctx, "/api/v1/namespace", smallBody)
	if err != nil {
		pc.errResult("probe-dashboard-no-login", "/api/v1/namespace", err)
		return true
	}
	if ns.status == http.StatusOK {
		pc.fail("probe-dashboard-no-login", 0, ns, "the Dashboard serves cluster data without a token", httpEv(ns))
		return true
	}
	pc.pass("probe-dashboard-no-login", ns, "the Dashboard asks for a token (login modes "+strings.Join(dm.Modes, ",")+")", httpEv(ns, "login modes", strings.Join(dm.Modes, ",")))
	return true
}

// ---- Argo Workflows server ----

// probeArgo asks the Argo Workflows server for /api/v1/info and a
// workflow list without a token: 200 means --auth-mode=server.
func probeArgo(pc *pctx) bool {
	info, err := pc.e.get(pc.ctx, "/api/v1/info", smallBody)
	if err != nil {
		return false
	}
	var ge grpcError
	switch {
	case info.status == http.StatusUnauthorized && decode(info.body, &ge) && ge.Code != nil && *ge.Code == 16: // gRPC Unauthenticated
		pc.pass("probe-argo-server-no-auth", info, "the Argo server asks for a token", httpEv(info, ".message", ge.Message))
		return true
	case info.status != http.StatusOK || !decode(info.body, &map[string]any{}):
		return false
	}
	wf, err := pc.e.get(pc.ctx, "/api/v1/workflows/?listOptions.limit=1", smallBody)
	if err != nil {
		pc.errResult("probe-argo-server-no-auth", "/api/v1/workflows/", err)
		return true
	}
	var lm struct {
		Metadata *struct{} `json:"metadata"`
	}
	if wf.status == http.StatusOK && decode(wf.body, &lm) && lm.Metadata != nil {
		pc.fail("probe-argo-server-no-auth", 0, wf, "the Argo Workflows server lists workflows without a token (--auth-mode=server): anyone can submit workflows", httpEv(wf)+"; /api/v1/info HTTP 200")
		return true
	}
	pc.fail("probe-argo-server-no-auth", control.SeverityHigh, info, "the Argo Workflows server answers /api/v1/info without a token", httpEv(info)+"; /api/v1/workflows/ "+httpEv(wf))
	return true
}

// ---- cloud metadata ----

// metadataProbes are the providers' instance metadata reads, each with
// the header the provider requires.
var metadataProbes = []struct {
	id, path, name string
	hdr            []string
}{
	{"probe-cloud-metadata-aws", "/latest/meta-data/", "AWS IMDSv1", nil},
	{"probe-cloud-metadata-azure", "/metadata/instance?api-version=2021-02-01", "Azure IMDS", []string{"Metadata", "true"}},
	{"probe-cloud-metadata-gcp", "/computeMetadata/v1/", "GCP metadata server", []string{"Metadata-Flavor", "Google"}},
}

// probeMetadata reads the cloud metadata service (only with --metadata).
func (p *Prober) probeMetadata(ctx context.Context) []audit.Result {
	u, err := url.Parse(p.o.MetadataURL)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	port := 80
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	e := newEndpoint(u.Hostname(), port, "http", &p.o, p.lim)
	defer e.close()
	pc := &pctx{ctx: ctx, e: e, p: p}
	for _, m := range metadataProbes {
		r, err := e.get(ctx, m.path, smallBody, m.hdr...)
		switch {
		case err != nil:
			pc.add(m.id, control.StatusPass, 0, nil, e.base+m.path, "the metadata service does not answer from here: "+describeOnly(err), "")
		case r.status == http.StatusOK && len(bytes.TrimSpace(r.body)) > 0:
			pc.fail(m.id, 0, r, "the "+m.name+" answers from here: instance identity and, often, credentials are one request away", httpEv(r))
		default:
			pc.pass(m.id, r, "the "+m.name+" refuses this request", httpEv(r))
		}
	}
	return pc.out
}
