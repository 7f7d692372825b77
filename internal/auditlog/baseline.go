package auditlog

import (
	"path"
	"strings"
	"sync"
	"time"
)

// DefaultSecretReaders are the identities that read secrets as part of
// running the cluster: patterns over user names (path.Match syntax) and
// group names prefixed with "group:".
var DefaultSecretReaders = []string{
	"system:kube-controller-manager",
	"system:kube-scheduler",
	"system:apiserver",
	"system:serviceaccount:kube-system:*",
	"group:system:nodes",
}

// Baseline decides whether a secret read comes from a usual reader of the
// namespace's secrets. A reader is usual when it is
//   - in the allow-list (DefaultSecretReaders and --secret-reader), or
//   - a ServiceAccount of the namespace that a pod of the namespace runs
//     as (when an Inventory is available: the namespace's own workloads), or
//   - learned: it read the namespace's secrets during the learning window
//     (the first Learn of event time after the first secret read seen).
//
// Learned readers are kept per namespace, at most MaxReaders per
// namespace and MaxNamespaces namespaces (beyond that nothing more is
// learned). Baseline is safe for concurrent use.
type Baseline struct {
	// Allow lists usual readers: user name patterns (path.Match), and
	// "group:NAME" for members of a group.
	Allow []string
	// Learn is the learning window (0: nothing is learned).
	Learn time.Duration
	// PodServiceAccount reports whether a pod of namespace ns runs as
	// ServiceAccount sa; nil when there is no inventory.
	PodServiceAccount func(ns, sa string) bool

	mu      sync.Mutex
	start   time.Time
	readers map[string]map[string]bool
}

// Limits of the learned baseline.
const (
	MaxReaders    = 1000
	MaxNamespaces = 10000
)

// Usual reports whether user (with groups) reading secrets of namespace ns
// (empty for a cluster-wide list) at time t is usual, learning it while the
// window is open.
func (b *Baseline) Usual(ns, user string, groups []string, t time.Time) bool {
	if b.allowed(user, groups) {
		return true
	}
	if b.PodServiceAccount != nil && ns != "" {
		if rest, ok := strings.CutPrefix(user, "system:serviceaccount:"+ns+":"); ok && b.PodServiceAccount(ns, rest) {
			return true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.readers == nil {
		b.readers = map[string]map[string]bool{}
		b.start = t
	}
	set := b.readers[ns]
	if set[user] {
		return true
	}
	if b.Learn <= 0 || t.Sub(b.start) >= b.Learn {
		return false
	}
	if set == nil {
		if len(b.readers) >= MaxNamespaces {
			return true
		}
		set = map[string]bool{}
		b.readers[ns] = set
	}
	if len(set) < MaxReaders {
		set[user] = true
	}
	return true
}

func (b *Baseline) allowed(user string, groups []string) bool {
	for _, p := range b.Allow {
		if g, ok := strings.CutPrefix(p, "group:"); ok {
			for _, have := range groups {
				if have == g {
					return true
				}
			}
			continue
		}
		if p == user {
			return true
		}
		if ok, _ := path.Match(p, user); ok {
			return true
		}
	}
	return false
}

// Learned returns the learned readers of namespace ns.
func (b *Baseline) Learned(ns string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for u := range b.readers[ns] {
		out = append(out, u)
	}
	return out
}
