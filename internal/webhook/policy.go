package webhook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/config"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// Namespace labels that set a namespace's modes. Each takes a severity
// (the mode covers failures at or above it), a framework ID (the mode
// covers that framework's controls) or "off".
const (
	LabelEnforce = "rampart.dev/enforce"
	LabelWarn    = "rampart.dev/warn"
	LabelAudit   = "rampart.dev/audit"
)

// Mode is what the webhook does with a failing verdict.
type Mode int

// Modes, weakest first: a verdict covered by several modes gets the
// strongest.
const (
	ModeNone Mode = iota
	ModeAudit
	ModeWarn
	ModeEnforce
)

// String returns the mode's name.
func (m Mode) String() string {
	return [...]string{"none", "audit", "warn", "enforce"}[m]
}

// Selector says which verdicts a mode covers: failures at or above a
// severity, or the controls of a framework. The zero Selector covers
// nothing.
type Selector struct {
	// on is false for "off".
	on bool
	// minSeverity applies when controls is nil.
	minSeverity control.Severity
	// controls are a framework's control IDs.
	controls map[string]bool
	// text is how the selector was written, for messages.
	text string
}

// Covers reports whether the selector covers a failure of control id at
// severity sev.
func (s Selector) Covers(id string, sev control.Severity) bool {
	if !s.on {
		return false
	}
	if s.controls != nil {
		return s.controls[id]
	}
	return sev >= s.minSeverity
}

// String returns the selector as written.
func (s Selector) String() string { return s.text }

// ParseSelector parses a label or config value: a severity, a framework
// ID or "off" (also ""). Framework IDs are looked up in fws.
func ParseSelector(v string, fws *framework.Set) (Selector, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "off") {
		return Selector{text: "off"}, nil
	}
	if sev, err := control.ParseSeverity(v); err == nil {
		return Selector{on: true, minSeverity: sev, text: v}, nil
	}
	if f, ok := fws.Get(v); ok {
		ids := map[string]bool{}
		for _, id := range f.ControlIDs() {
			ids[id] = true
		}
		return Selector{on: true, controls: ids, text: v}, nil
	}
	return Selector{}, fmt.Errorf("%q is neither a severity (info, low, medium, high, critical), a framework (%s) nor off", v, strings.Join(fws.IDs(), ", "))
}

// Modes are the three selectors in force for one request.
type Modes struct {
	// Enforce, Warn and Audit select the verdicts each mode covers.
	Enforce, Warn, Audit Selector
}

// ModeOf returns the strongest mode covering a failure of control id at
// severity sev.
func (m *Modes) ModeOf(id string, sev control.Severity) Mode {
	switch {
	case m.Enforce.Covers(id, sev):
		return ModeEnforce
	case m.Warn.Covers(id, sev):
		return ModeWarn
	case m.Audit.Covers(id, sev):
		return ModeAudit
	}
	return ModeNone
}

// Policy is the webhook's compiled configuration: cluster-default modes,
// exemptions and image rules. It is built once and read concurrently.
type Policy struct {
	// Default are the cluster-default modes.
	Default Modes
	// ExemptNamespaces, ExemptUsers and ExemptGroups are exempt from
	// evaluation.
	ExemptNamespaces, ExemptUsers, ExemptGroups map[string]bool
	// Enforced are controls enforced in every non-exempt namespace
	// (image-tag-latest with denyLatestTag, untrusted-registry with
	// requireAllowedRegistries).
	Enforced map[string]bool
	fws      *framework.Set
	// selectors holds every valid label value compiled once (severities,
	// framework IDs, off), so that requests never build one.
	selectors map[string]Selector
}

// Default modes when the configuration sets none.
const (
	DefaultEnforce = "off"
	DefaultWarn    = "high"
	DefaultAudit   = "info"
)

// NewPolicy compiles cfg. ownNamespace (Rampart's) and kube-system are
// always exempt.
func NewPolicy(cfg config.Webhook, ownNamespace string, fws *framework.Set) (*Policy, error) {
	p := &Policy{
		ExemptNamespaces: k8s.NameSet(append([]string{"kube-system", ownNamespace}, cfg.ExemptNamespaces...)),
		ExemptUsers:      k8s.NameSet(cfg.ExemptUsers),
		ExemptGroups:     k8s.NameSet(cfg.ExemptGroups),
		Enforced:         map[string]bool{},
		fws:              fws,
		selectors:        map[string]Selector{},
	}
	values := append([]string{"off"}, fws.IDs()...)
	for sev := control.SeverityInfo; sev <= control.SeverityCritical; sev++ {
		values = append(values, sev.String())
	}
	for _, v := range values {
		s, err := ParseSelector(v, fws)
		if err != nil {
			return nil, err
		}
		p.selectors[v] = s
	}
	for _, m := range []struct {
		name, v, def string
		dst          *Selector
	}{
		{"enforce", cfg.Enforce, DefaultEnforce, &p.Default.Enforce},
		{"warn", cfg.Warn, DefaultWarn, &p.Default.Warn},
		{"audit", cfg.Audit, DefaultAudit, &p.Default.Audit},
	} {
		v := m.v
		if v == "" {
			v = m.def
		}
		s, err := ParseSelector(v, fws)
		if err != nil {
			return nil, fmt.Errorf("webhook.%s: %w", m.name, err)
		}
		*m.dst = s
	}
	if cfg.DenyLatestTag {
		p.Enforced["image-tag-latest"] = true
	}
	if cfg.RequireAllowedRegistries {
		p.Enforced["untrusted-registry"] = true
	}
	return p, nil
}

// Exempt reports why a request is exempt ("" when it is not).
func (p *Policy) Exempt(namespace, user string, groups []string) string {
	switch {
	case namespace != "" && p.ExemptNamespaces[namespace]:
		return "namespace " + namespace + " is exempt"
	case p.ExemptUsers[user]:
		return "user " + user + " is exempt"
	}
	if i := slices.IndexFunc(groups, func(g string) bool { return p.ExemptGroups[g] }); i >= 0 {
		return "group " + groups[i] + " is exempt"
	}
	return ""
}

// ModesFor returns the modes of a namespace with the given labels: each
// label overrides the cluster default. A label that does not parse is
// ignored (the default applies) and reported in the returned error, which
// the caller logs; the request is still served.
func (p *Policy) ModesFor(labels map[string]string) (Modes, error) {
	m := p.Default
	var errs []string
	for _, l := range []struct {
		key string
		dst *Selector
	}{{LabelEnforce, &m.Enforce}, {LabelWarn, &m.Warn}, {LabelAudit, &m.Audit}} {
		v, ok := labels[l.key]
		if !ok {
			continue
		}
		s, ok := p.selectors[strings.ToLower(strings.TrimSpace(v))]
		if !ok {
			msg := fmt.Sprintf("unknown value %q", v)
			if _, err := ParseSelector(v, p.fws); err != nil {
				msg = err.Error()
			}
			errs = append(errs, l.key+": "+msg)
			continue
		}
		*l.dst = s
	}
	if len(errs) > 0 {
		return m, fmt.Errorf("namespace labels: %s", strings.Join(errs, "; "))
	}
	return m, nil
}
