package probe

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The response shapes the probes read. Only the fields that prove a
// finding are decoded; everything else in a body is ignored.

type versionInfo struct {
	GitVersion string `json:"gitVersion"`
	Platform   string `json:"platform"`
}

type kubeStatus struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type apiVersions struct {
	Kind     string   `json:"kind"`
	Versions []string `json:"versions"`
}

type listMeta struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

type podList struct {
	Kind  string `json:"kind"`
	Items []struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Containers     []containerSpec `json:"containers"`
			InitContainers []containerSpec `json:"initContainers"`
		} `json:"spec"`
	} `json:"items"`
}

type containerSpec struct {
	Name            string `json:"name"`
	SecurityContext *struct {
		Privileged *bool `json:"privileged"`
	} `json:"securityContext"`
}

type rulesReview struct {
	Kind   string `json:"kind"`
	Status struct {
		ResourceRules []struct {
			Verbs     []string `json:"verbs"`
			APIGroups []string `json:"apiGroups"`
			Resources []string `json:"resources"`
		} `json:"resourceRules"`
		NonResourceRules []struct {
			Verbs           []string `json:"verbs"`
			NonResourceURLs []string `json:"nonResourceURLs"`
		} `json:"nonResourceRules"`
		Incomplete bool `json:"incomplete"`
	} `json:"status"`
}

type etcdVersion struct {
	Server  string `json:"etcdserver"`
	Cluster string `json:"etcdcluster"`
}

type etcdRange struct {
	Header *struct {
		ClusterID string `json:"cluster_id"`
	} `json:"header"`
	Count string `json:"count"`
}

type dockerVersion struct {
	Version    string `json:"Version"`
	APIVersion string `json:"ApiVersion"`
	Os         string `json:"Os"`
}

type dashboardSkippable struct {
	Skippable *bool `json:"skippable"`
}

type dashboardModes struct {
	Modes []string `json:"modes"`
}

type grpcError struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// decode unmarshals body into v, reporting whether it was a JSON value of
// the right shape. It never panics.
func decode(body []byte, v any) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || (body[0] != '{' && body[0] != '[') {
		return false
	}
	return json.Unmarshal(body, v) == nil
}

// privilegedContainers lists namespace/pod/container of the privileged
// containers in a PodList.
func privilegedContainers(pl *podList) []string {
	var out []string
	for _, p := range pl.Items {
		for _, cs := range [][]containerSpec{p.Spec.InitContainers, p.Spec.Containers} {
			for _, c := range cs {
				if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
					out = append(out, p.Metadata.Namespace+"/"+p.Metadata.Name+"/"+c.Name)
				}
			}
		}
	}
	return out
}

// dangerousRules summarises the rules of a SelfSubjectRulesReview that
// matter: wildcards, reading secrets, creating workloads, exec.
func dangerousRules(rr *rulesReview) (all []string, dangerous []string) {
	for _, r := range rr.Status.ResourceRules {
		desc := strings.Join(r.Verbs, ",") + " " + strings.Join(r.Resources, ",")
		if isSelfReview(r.Resources) {
			continue
		}
		all = append(all, desc)
		verbs, res := set(r.Verbs), set(r.Resources)
		switch {
		case verbs["*"] || res["*"]:
			dangerous = append(dangerous, desc)
		case res["secrets"] && (verbs["get"] || verbs["list"] || verbs["watch"]):
			dangerous = append(dangerous, desc)
		case (res["pods"] || res["deployments"] || res["daemonsets"] || res["jobs"] || res["cronjobs"]) && (verbs["create"] || verbs["update"] || verbs["patch"]):
			dangerous = append(dangerous, desc)
		case res["pods/exec"] || res["pods/attach"] || res["nodes/proxy"]:
			dangerous = append(dangerous, desc)
		case res["clusterrolebindings"] || res["rolebindings"] || res["serviceaccounts/token"]:
			dangerous = append(dangerous, desc)
		}
	}
	return all, dangerous
}

func isSelfReview(res []string) bool {
	for _, r := range res {
		if !strings.HasPrefix(r, "selfsubject") {
			return false
		}
	}
	return len(res) > 0
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// clip shortens a value quoted in evidence.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
