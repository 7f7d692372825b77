package rbac

import (
	"slices"
	"strings"
)

// All is the RBAC wildcard.
const All = "*"

// Rule is one PolicyRule.
type Rule struct {
	// Verbs, APIGroups, Resources, ResourceNames and NonResourceURLs are the
	// rule's lists, as written.
	Verbs           []string `json:"verbs"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// Request is one authorization request, as a SubjectAccessReview describes
// it: a resource request (Resource set) or a non-resource request (Path set).
type Request struct {
	// Verb is the API verb (get, list, create, ...) or the HTTP verb of a
	// non-resource request (get, post, ...).
	Verb string `json:"verb"`
	// APIGroup is the resource's API group, "" for the core group.
	APIGroup string `json:"apiGroup,omitempty"`
	// Resource is the resource name, such as "pods".
	Resource string `json:"resource,omitempty"`
	// Subresource is the subresource, such as "exec".
	Subresource string `json:"subresource,omitempty"`
	// Namespace is the request's namespace, "" for cluster-scoped or
	// all-namespace requests.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name, "" when the request names none.
	Name string `json:"name,omitempty"`
	// Path is the URL path of a non-resource request.
	Path string `json:"path,omitempty"`
}

// IsResource reports whether r is a resource request.
func (r Request) IsResource() bool { return r.Path == "" }

// String formats r like "get pods/exec in ns (name)".
func (r Request) String() string {
	if !r.IsResource() {
		return r.Verb + " " + r.Path
	}
	s := r.Verb + " " + r.Resource
	if r.APIGroup != "" {
		s += "." + r.APIGroup
	}
	if r.Subresource != "" {
		s += "/" + r.Subresource
	}
	if r.Name != "" {
		s += " " + r.Name
	}
	if r.Namespace != "" {
		s += " in " + r.Namespace
	} else {
		s += " (cluster-wide)"
	}
	return s
}

// Allows reports whether the rule allows req, as the RBAC authorizer's
// RuleAllows does.
func (r *Rule) Allows(req Request) bool {
	if !req.IsResource() {
		return verbMatches(r.Verbs, req.Verb) && nonResourceURLMatches(r.NonResourceURLs, req.Path)
	}
	combined := req.Resource
	if req.Subresource != "" {
		combined += "/" + req.Subresource
	}
	return verbMatches(r.Verbs, req.Verb) &&
		apiGroupMatches(r.APIGroups, req.APIGroup) &&
		resourceMatches(r.Resources, combined, req.Subresource) &&
		resourceNameMatches(r.ResourceNames, req.Name)
}

func verbMatches(verbs []string, verb string) bool {
	for _, v := range verbs {
		if v == All || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(groups []string, group string) bool {
	for _, g := range groups {
		if g == All || g == group {
			return true
		}
	}
	return false
}

// resourceMatches mirrors rbacv1helpers.ResourceMatches: "*", an exact
// "resource" or "resource/sub" match, or "*/sub" for a request on sub.
func resourceMatches(resources []string, combined, sub string) bool {
	for _, r := range resources {
		if r == All || r == combined {
			return true
		}
		if sub == "" {
			continue
		}
		if len(r) == len(sub)+2 && strings.HasPrefix(r, "*/") && strings.HasSuffix(r, sub) {
			return true
		}
	}
	return false
}

func resourceNameMatches(names []string, name string) bool {
	return len(names) == 0 || slices.Contains(names, name)
}

// nonResourceURLMatches mirrors rbacv1helpers.NonResourceURLMatches.
func nonResourceURLMatches(urls []string, path string) bool {
	for _, u := range urls {
		if u == All || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")) {
			return true
		}
	}
	return false
}

// equal reports whether two rules are the same, as the aggregation
// controller compares them.
func (r *Rule) equal(o *Rule) bool {
	return slices.Equal(r.Verbs, o.Verbs) && slices.Equal(r.APIGroups, o.APIGroups) &&
		slices.Equal(r.Resources, o.Resources) && slices.Equal(r.ResourceNames, o.ResourceNames) &&
		slices.Equal(r.NonResourceURLs, o.NonResourceURLs)
}

// String formats the rule compactly, like "get,list secrets [apps]".
func (r *Rule) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(r.Verbs, ","))
	if len(r.NonResourceURLs) > 0 {
		b.WriteString(" " + strings.Join(r.NonResourceURLs, ","))
	}
	if len(r.Resources) > 0 {
		b.WriteString(" " + strings.Join(r.Resources, ","))
		groups := make([]string, len(r.APIGroups))
		for i, g := range r.APIGroups {
			if g == "" {
				g = `""`
			}
			groups[i] = g
		}
		b.WriteString(" [" + strings.Join(groups, ",") + "]")
	}
	if len(r.ResourceNames) > 0 {
		b.WriteString(" names=" + strings.Join(r.ResourceNames, ","))
	}
	return b.String()
}
