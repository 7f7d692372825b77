package engine

import (
	"path"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Annotation keys users put on objects to except controls.
const (
	AnnotationIgnore       = "rampart.dev/ignore"
	AnnotationIgnoreReason = "rampart.dev/ignore-reason"
)

// Exception excepts matching findings. Empty patterns match everything;
// patterns are shell globs (path.Match).
type Exception struct {
	// Controls are control ID globs.
	Controls []string `json:"controls" yaml:"controls"`
	// Kinds are kind globs.
	Kinds []string `json:"kinds" yaml:"kinds"`
	// Namespaces are namespace globs.
	Namespaces []string `json:"namespaces" yaml:"namespaces"`
	// Names are object name globs.
	Names []string `json:"names" yaml:"names"`
	// Reason is required: why the risk is accepted.
	Reason string `json:"reason" yaml:"reason"`
	// Expires is an optional YYYY-MM-DD date from which the exception no longer applies.
	Expires string `json:"expires,omitempty" yaml:"expires,omitempty"`
}

// matches reports whether the exception covers control id on ref.
func (e *Exception) matches(id string, ref k8s.Ref) bool {
	return globAny(e.Controls, id) && globAny(e.Kinds, ref.Kind) &&
		globAny(e.Namespaces, ref.Namespace) && globAny(e.Names, ref.Name)
}

// Expired reports whether the exception has expired at now. An exception
// expiring on a date applies through the end of the previous day.
func (e *Exception) Expired(now time.Time) bool {
	if e.Expires == "" {
		return false
	}
	t, err := time.Parse(time.DateOnly, e.Expires)
	if err != nil {
		return true
	}
	return !now.Before(t)
}

func globAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

// annotationIgnores parses rampart.dev/ignore into a set of control IDs.
func annotationIgnores(ann map[string]string) map[string]bool {
	v, ok := ann[AnnotationIgnore]
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out[id] = true
		}
	}
	return out
}
