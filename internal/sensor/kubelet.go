package sensor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// PodInfo is what attribution needs of one pod.
type PodInfo struct {
	// Name, Namespace and UID identify the pod.
	Name, Namespace, UID string
	// ServiceAccount is the pod's ServiceAccount name.
	ServiceAccount string
	// WorkloadKind and WorkloadName are the pod's top-level owner as far as
	// the pod tells (a ReplicaSet with the pod-template-hash label becomes
	// its Deployment); the pod itself when it has no owner.
	WorkloadKind, WorkloadName string
	// Containers are the pod's containers (init and ephemeral included) by
	// container ID.
	Containers map[string]ContainerInfo
	// Images lists the images of the pod's containers, in spec order.
	Images []string
}

// ContainerInfo is one container of a pod.
type ContainerInfo struct {
	// Name is the container's name in the pod spec.
	Name string
	// Image is the image as the spec names it.
	Image string
	// ImageID is the resolved image (repo@sha256:…), from the status.
	ImageID string
}

// PodSource looks pods up by UID.
type PodSource interface {
	// Pod returns the pod with uid, refreshing its list when the pod is
	// unknown (at most once per refresh interval).
	Pod(ctx context.Context, uid string) (*PodInfo, bool)
}

// KubeletOptions configure a KubeletPods source.
type KubeletOptions struct {
	// TokenFile is a bearer token file (the ServiceAccount token) sent to
	// the kubelet's authenticated port; re-read at every refresh.
	TokenFile string
	// CAFile verifies the kubelet's serving certificate.
	CAFile string
	// InsecureSkipVerify skips that verification (kubelets often serve a
	// self-signed certificate).
	InsecureSkipVerify bool
	// MinRefresh is the least time between two fetches (default 2s).
	MinRefresh time.Duration
	// Client overrides the HTTP client (tests).
	Client *http.Client
}

// KubeletPods reads the kubelet's /pods endpoint (the pods bound to this
// node) and caches it.
type KubeletPods struct {
	url  string
	opts KubeletOptions

	mu      sync.Mutex
	pods    map[string]*PodInfo
	fetched time.Time
	lastErr error
}

// maxPodListSize bounds the kubelet's answer.
const maxPodListSize = 64 << 20

// NewKubeletPods returns a source reading baseURL + "/pods" (e.g.
// https://127.0.0.1:10250 or http://127.0.0.1:10255).
func NewKubeletPods(baseURL string, opts KubeletOptions) (*KubeletPods, error) {
	if opts.MinRefresh == 0 {
		opts.MinRefresh = 2 * time.Second
	}
	if opts.Client == nil {
		tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // opt-in for self-signed kubelet certificates
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--kubelet-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--kubelet-ca %s: no PEM certificate", opts.CAFile)
			}
			tlsConf.RootCAs = pool
		}
		opts.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &KubeletPods{url: strings.TrimSuffix(baseURL, "/") + "/pods", opts: opts}, nil
}

// Pod implements PodSource.
func (k *KubeletPods) Pod(ctx context.Context, uid string) (*PodInfo, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.pods[uid]; ok {
		return p, true
	}
	if time.Since(k.fetched) < k.opts.MinRefresh {
		return nil, false
	}
	k.fetched = time.Now()
	pods, err := k.fetch(ctx)
	k.lastErr = err
	if err != nil {
		return nil, false
	}
	k.pods = pods
	p, ok := pods[uid]
	return p, ok
}

// Err returns the error of the last fetch, nil when it succeeded.
func (k *KubeletPods) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

func (k *KubeletPods) fetch(ctx context.Context) (map[string]*PodInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("kubelet %s: %s", k.url, oneline.Err(err))
	}
	if k.opts.TokenFile != "" {
		tok, err := os.ReadFile(k.opts.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("kubelet token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := k.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubelet %s: %s", k.url, oneline.Err(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kubelet %s: %s", k.url, resp.Status)
	}
	var list corev1.PodList
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPodListSize)).Decode(&list); err != nil {
		return nil, fmt.Errorf("kubelet %s: decoding the pod list: %s", k.url, oneline.Err(err))
	}
	return IndexPods(list.Items), nil
}

// IndexPods turns pods into PodInfos by UID.
func IndexPods(pods []corev1.Pod) map[string]*PodInfo {
	out := make(map[string]*PodInfo, len(pods))
	for i := range pods {
		p := &pods[i]
		info := &PodInfo{Name: p.Name, Namespace: p.Namespace, UID: string(p.UID), ServiceAccount: p.Spec.ServiceAccountName,
			Containers: map[string]ContainerInfo{}}
		info.WorkloadKind, info.WorkloadName = "Pod", p.Name
		for _, o := range p.OwnerReferences {
			if o.Controller == nil || !*o.Controller {
				continue
			}
			info.WorkloadKind, info.WorkloadName = o.Kind, o.Name
			if h := p.Labels["pod-template-hash"]; o.Kind == "ReplicaSet" && h != "" && strings.HasSuffix(o.Name, "-"+h) {
				info.WorkloadKind, info.WorkloadName = "Deployment", strings.TrimSuffix(o.Name, "-"+h)
			}
		}
		images := map[string]string{}
		for _, c := range p.Spec.InitContainers {
			images[c.Name] = c.Image
			info.Images = append(info.Images, c.Image)
		}
		for _, c := range p.Spec.Containers {
			images[c.Name] = c.Image
			info.Images = append(info.Images, c.Image)
		}
		for _, c := range p.Spec.EphemeralContainers {
			images[c.Name] = c.Image
		}
		for _, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
			for _, s := range statuses {
				_, id, ok := strings.Cut(s.ContainerID, "://")
				if !ok || id == "" {
					continue
				}
				img := images[s.Name]
				if img == "" {
					img = s.Image
				}
				info.Containers[id] = ContainerInfo{Name: s.Name, Image: img, ImageID: s.ImageID}
			}
		}
		out[info.UID] = info
	}
	return out
}
