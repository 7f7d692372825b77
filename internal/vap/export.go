package vap

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/rampart-dev/rampart/internal/celrules"
	"github.com/rampart-dev/rampart/internal/control"
)

// NamePrefix starts the name of every exported object.
const NamePrefix = "rampart-"

// Annotations and labels on exported objects.
const (
	AnnotationControl  = "rampart.dev/control"
	AnnotationSeverity = "rampart.dev/severity"
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	// NamespaceNameLabel is set by the API server on every Namespace.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
)

// Policy is one control in the form the export writes: what it matches
// and its CEL variables and validations.
type Policy struct {
	// ID is the control's ID.
	ID string
	// Title is the control's title.
	Title string
	// Severity is the control's severity.
	Severity control.Severity
	// Kinds are the kinds the policy matches.
	Kinds []string
	// APIGroups, when set, replace the known group of each kind.
	APIGroups []string
	// Namespaces, when set, limit the binding to these namespaces.
	Namespaces []string
	// Variables and Validations are the policy's CEL.
	Variables   []celrules.Variable
	Validations []celrules.Validation
}

// Skipped is a control left out of the export, with the reason.
type Skipped struct {
	// ID is the control's ID.
	ID string
	// Reason says why CEL cannot express it faithfully.
	Reason string
}

// Builtins returns the policies of the built-in controls ctls that have a
// CEL translation, and the others as skipped with the reason.
func Builtins(ctls []*control.Control) ([]*Policy, []Skipped) {
	var out []*Policy
	var skipped []Skipped
	for _, c := range ctls {
		tr, ok := translations[c.ID]
		if !ok {
			skipped = append(skipped, Skipped{ID: c.ID, Reason: skipReason(c)})
			continue
		}
		kinds := tr.kinds
		if kinds == nil {
			kinds = podKinds
		}
		out = append(out, &Policy{
			ID:          c.ID,
			Title:       c.Title,
			Severity:    c.Severity,
			Kinds:       slices.Clone(kinds),
			Variables:   append(slices.Clone(podVariables), tr.vars...),
			Validations: []celrules.Validation{{Expression: tr.expr, Message: c.ID + ": " + tr.message}},
		})
	}
	return out, skipped
}

// skipReason says why c has no translation.
func skipReason(c *control.Control) string {
	switch {
	case c.External != "":
		return "evaluated against live components by rampart " + c.External + ", not on objects"
	case c.Cross != nil:
		return "reads several objects (a cross-object control); an admission policy sees one object"
	case skipReasons[c.ID] != "":
		return skipReasons[c.ID]
	}
	return "no CEL translation yet"
}

// FromRule returns the policy of a custom rule, as written.
func FromRule(r *celrules.Rule) *Policy {
	v := r.Validation
	if v.Message == "" {
		v.Message = r.ID + ": " + r.Title
	}
	return &Policy{
		ID:          r.ID,
		Title:       r.Title,
		Severity:    r.Severity,
		Kinds:       slices.Clone(r.Match.Kinds),
		APIGroups:   slices.Clone(r.Match.APIGroups),
		Namespaces:  slices.Clone(r.Match.Namespaces),
		Variables:   slices.Clone(r.Variables),
		Validations: []celrules.Validation{v},
	}
}

// Program compiles the policy's CEL with the same environment the rules
// use, to evaluate it outside the API server.
func (p *Policy) Program() (*celrules.Program, error) {
	prog, err := celrules.Compile(p.Variables, p.Validations)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.ID, err)
	}
	return prog, nil
}

// Options configure the exported objects.
type Options struct {
	// Actions are the bindings' validationActions (Deny, Warn, Audit);
	// default Deny.
	Actions []admissionv1.ValidationAction
	// ExcludeNamespaces are left out by the bindings' namespaceSelector
	// (ignored for policies limited to namespaces).
	ExcludeNamespaces []string
	// FailClosed sets failurePolicy Fail: an expression that cannot be
	// evaluated denies the request. The default, Ignore, admits it.
	FailClosed bool
}

// ParseActions parses --action values ("Deny", "Warn,Audit", …). Deny and
// Warn exclude each other.
func ParseActions(vals []string) ([]admissionv1.ValidationAction, error) {
	var out []admissionv1.ValidationAction
	for _, v := range vals {
		var a admissionv1.ValidationAction
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "deny":
			a = admissionv1.Deny
		case "warn":
			a = admissionv1.Warn
		case "audit":
			a = admissionv1.Audit
		default:
			return nil, fmt.Errorf("unknown action %q (want Deny, Warn or Audit)", v)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if slices.Contains(out, admissionv1.Deny) && slices.Contains(out, admissionv1.Warn) {
		return nil, fmt.Errorf("actions Deny and Warn exclude each other")
	}
	if len(out) == 0 {
		out = []admissionv1.ValidationAction{admissionv1.Deny}
	}
	return out, nil
}

// Objects builds the ValidatingAdmissionPolicy and its binding for each
// policy, in order. The policies are compiled first, so nothing is written
// that the API server would reject for its CEL.
func Objects(policies []*Policy, o Options) ([]any, error) {
	actions := o.Actions
	if len(actions) == 0 {
		actions = []admissionv1.ValidationAction{admissionv1.Deny}
	}
	fp := admissionv1.Ignore
	if o.FailClosed {
		fp = admissionv1.Fail
	}
	var out []any
	for _, p := range policies {
		if _, err := p.Program(); err != nil {
			return nil, err
		}
		name := NamePrefix + p.ID
		meta := metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{LabelManagedBy: "rampart"},
			Annotations: map[string]string{AnnotationControl: p.ID, AnnotationSeverity: p.Severity.String()},
		}
		policy := &admissionv1.ValidatingAdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: meta,
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				FailurePolicy:    &fp,
				MatchConstraints: &admissionv1.MatchResources{ResourceRules: resourceRules(p)},
			},
		}
		for _, v := range p.Variables {
			policy.Spec.Variables = append(policy.Spec.Variables, admissionv1.Variable{Name: v.Name, Expression: v.Expression})
		}
		for _, v := range p.Validations {
			policy.Spec.Validations = append(policy.Spec.Validations, admissionv1.Validation{
				Expression: v.Expression, Message: v.Message, MessageExpression: v.MessageExpression,
			})
		}
		sel := &metav1.LabelSelector{}
		switch {
		case len(p.Namespaces) > 0:
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: NamespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: slices.Clone(p.Namespaces)}}
		case len(o.ExcludeNamespaces) > 0:
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: NamespaceNameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: slices.Clone(o.ExcludeNamespaces)}}
		}
		binding := &admissionv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: *meta.DeepCopy(),
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: slices.Clone(actions),
				MatchResources:    &admissionv1.MatchResources{NamespaceSelector: sel},
			},
		}
		out = append(out, policy, binding)
	}
	return out, nil
}

// resourceRules matches the policy's kinds on create and update.
func resourceRules(p *Policy) []admissionv1.NamedRuleWithOperations {
	// Group the kinds by API group so that one rule covers each group.
	type key struct{ groups, versions string }
	var order []key
	byKey := map[key][]string{}
	for _, k := range p.Kinds {
		r, known := resourceFor(k)
		groups := []string{r.group}
		version := r.version
		if len(p.APIGroups) > 0 {
			groups, version = p.APIGroups, "*"
		} else if !known {
			version = "*"
		}
		kk := key{strings.Join(groups, ","), version}
		if _, ok := byKey[kk]; !ok {
			order = append(order, kk)
		}
		if !slices.Contains(byKey[kk], r.plural) {
			byKey[kk] = append(byKey[kk], r.plural)
		}
	}
	var out []admissionv1.NamedRuleWithOperations
	for _, kk := range order {
		out = append(out, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule: admissionv1.Rule{
				APIGroups:   strings.Split(kk.groups, ","),
				APIVersions: []string{kk.versions},
				Resources:   byKey[kk],
			},
		}})
	}
	return out
}

// WriteYAML writes objs as a YAML stream.
func WriteYAML(w io.Writer, objs []any) error {
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return fmt.Errorf("encoding %T: %w", o, err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes objs as a v1 List.
func WriteJSON(w io.Writer, objs []any) error {
	if objs == nil {
		objs = []any{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
}
