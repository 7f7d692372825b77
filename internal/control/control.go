package control

import (
	"fmt"
	"sort"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Metadata describes a control. It is data, loaded from embedded YAML.
type Metadata struct {
	// ID is the stable kebab-case identifier users put in annotations and configs.
	ID string `json:"id" yaml:"id"`
	// Title is a short human name.
	Title string `json:"title" yaml:"title"`
	// Severity is how bad a failure is.
	Severity Severity `json:"severity" yaml:"severity"`
	// Category groups controls (workload, rbac, network, control-plane, exposure).
	Category string `json:"category" yaml:"category"`
	// Description says what is checked and why it matters.
	Description string `json:"description" yaml:"description"`
	// Remediation says how to fix a failure, with the exact YAML.
	Remediation string `json:"remediation" yaml:"remediation"`
	// References are links to the standards and documents behind the control.
	References []string `json:"references" yaml:"references"`
}

// Violation is one failure a check reports on the object it evaluates.
type Violation struct {
	// Path is the offending field, e.g. "spec.template.spec.containers[0].securityContext.privileged".
	Path string
	// Container names the container concerned, if any.
	Container string
	// Message says what is wrong, in one sentence. It never contains secret values.
	Message string
	// Severity, when not zero, overrides the control's severity for this
	// finding (a cross-object control raises it when other objects make the
	// failure worse). The zero value (SeverityInfo) means the control's own
	// severity, so a finding cannot be lowered to info this way.
	Severity Severity
}

// Settings are user-tunable inputs to checks.
type Settings struct {
	// AllowedRegistries lists registry prefixes images may come from; empty disables untrusted-registry.
	AllowedRegistries []string `json:"allowedRegistries" yaml:"allowedRegistries"`
}

// Context is what a per-object check sees.
type Context struct {
	// Obj is the object under evaluation.
	Obj *k8s.Object
	// Settings are the user's settings.
	Settings *Settings
	// Violations collects what the check reports.
	Violations []Violation
}

// Fail records a violation at path.
func (c *Context) Fail(path, container, msg string) {
	c.Violations = append(c.Violations, Violation{Path: path, Container: container, Message: msg})
}

// Failf records a violation with a formatted message.
func (c *Context) Failf(path, container, format string, args ...any) {
	c.Fail(path, container, fmt.Sprintf(format, args...))
}

// CrossContext is what a cross-object check sees once every object is loaded.
type CrossContext struct {
	// Inv holds every object of the scan.
	Inv *k8s.Inventory
	// Settings are the user's settings.
	Settings *Settings
	// Evaluated lists the entries the check applied to.
	Evaluated []*k8s.Entry
	// Violations maps entry IDs to their violations.
	Violations map[int][]Violation
	// Images tells what is known of the images the workloads run; nil
	// unless the scan analysed them (rampart scan --cluster --images).
	Images ImageIndex
}

// ImageIndex gives the vulnerability summary of the images a scan's
// workloads run. It is safe for concurrent use.
type ImageIndex interface {
	// Image returns the summary of image (a container's image field) as
	// run in namespace, or nil when it was not analysed.
	Image(namespace, image string) *ImageVulns
}

// ImageVulns summarises the vulnerabilities of one container image.
type ImageVulns struct {
	// Digests are the image digests the reference ran as (one unless a
	// tag moved while pods kept running the old digest).
	Digests []string
	// Critical and High are the vulnerabilities of those severities.
	Critical, High VulnCount
}

// VulnCount counts an image's vulnerabilities of one severity.
type VulnCount struct {
	// N is how many there are.
	N int
	// Worst lists the worst of them, highest score first, as "ID (CVE) in
	// package version, fixed in version".
	Worst []string
}

// Evaluate marks e as evaluated: it passes unless a violation is reported.
func (c *CrossContext) Evaluate(e *k8s.Entry) { c.Evaluated = append(c.Evaluated, e) }

// Fail records a violation on an evaluated entry.
func (c *CrossContext) Fail(e *k8s.Entry, v Violation) {
	if c.Violations == nil {
		c.Violations = map[int][]Violation{}
	}
	c.Violations[e.ID] = append(c.Violations[e.ID], v)
}

// Control is metadata joined with check logic. Exactly one of Check, Cross
// and External is set.
type Control struct {
	Metadata
	// Kinds lists the kinds Check applies to; empty means every kind.
	Kinds []string
	// Match optionally narrows which objects of Kinds Check applies to.
	Match func(*k8s.Object) bool
	// MetadataOnly declares that Check reads only apiVersion, kind and
	// metadata, so objects that no other control reads need not be decoded
	// beyond those.
	MetadataOnly bool
	// Check evaluates one object.
	Check func(*Context)
	// Cross evaluates the whole inventory after loading.
	Cross func(*CrossContext)
	// External names the audit command that evaluates the control against
	// live components (for example "probe"); scans do not run it. Such
	// controls are in the catalogue so that rampart controls, rampart
	// explain and framework mappings cover them.
	External string
}

// Applies reports whether the per-object check applies to obj.
func (c *Control) Applies(obj *k8s.Object) bool {
	if c.Check == nil {
		return false
	}
	if len(c.Kinds) > 0 {
		kind := obj.Kind()
		found := false
		for _, k := range c.Kinds {
			if k == kind {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return c.Match == nil || c.Match(obj)
}

// Registry holds the controls of one process. It is an explicit instance,
// never a global.
type Registry struct {
	byID map[string]*Control
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{byID: map[string]*Control{}} }

// Register adds c, rejecting incomplete controls and duplicate IDs.
func (r *Registry) Register(c *Control) error {
	switch {
	case c.ID == "":
		return fmt.Errorf("registering control: empty ID")
	case r.byID[c.ID] != nil:
		return fmt.Errorf("registering control %s: duplicate ID", c.ID)
	case btoi(c.Check != nil)+btoi(c.Cross != nil)+btoi(c.External != "") != 1:
		return fmt.Errorf("registering control %s: exactly one of Check, Cross and External must be set", c.ID)
	}
	r.byID[c.ID] = c
	return nil
}

// Get returns the control with id.
func (r *Registry) Get(id string) (*Control, bool) {
	c, ok := r.byID[id]
	return c, ok
}

// All returns every control sorted by ID.
func (r *Registry) All() []*Control {
	out := make([]*Control, 0, len(r.byID))
	for _, c := range r.byID {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
