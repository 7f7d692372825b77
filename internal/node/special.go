package node

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/report"
)

// defaultAdmission are the admission plugins kube-apiserver v1.37 enables
// when --enable-admission-plugins does not name them
// (pkg/kubeapiserver/options/plugins.go).
var defaultAdmission = []string{
	"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "DefaultStorageClass", "PersistentVolumeClaimResize",
	"DefaultTolerationSeconds", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota",
	"StorageObjectInUseProtection", "PodGroupProtection", "Priority", "TaintNodesByCondition", "RuntimeClass",
	"CertificateApproval", "CertificateSigning", "ClusterTrustBundleAttest", "CertificateSubjectRestriction",
	"DefaultIngressClass", "PodSecurity", "PodTopologyLabels", "MutatingAdmissionPolicy",
	"ValidatingAdmissionPolicy", "NodeDeclaredFeatureValidator", "PodResizeValidator",
}

func listHas(list, item string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.TrimSpace(v) == item {
			return true
		}
	}
	return false
}

// admission decides whether a plugin is enabled on an instance: named in
// --enable-admission-plugins, or on by default, and not named in
// --disable-admission-plugins.
func admission(in *Instance, plugin string) (bool, *report.Evidence) {
	if v, ok := in.Last("disable-admission-plugins"); ok && listHas(v, plugin) {
		return false, &report.Evidence{Value: "--disable-admission-plugins=" + v, Origin: OriginFlag, Location: in.Location()}
	}
	if v, ok := in.Last("enable-admission-plugins"); ok && listHas(v, plugin) {
		return true, &report.Evidence{Value: "--enable-admission-plugins=" + v, Origin: OriginFlag, Location: in.Location()}
	}
	if slices.Contains(defaultAdmission, plugin) {
		return true, &report.Evidence{Value: plugin + " on by default", Origin: OriginDefault, Location: "kube-apiserver default admission plugins"}
	}
	v, _ := in.Last("enable-admission-plugins")
	return false, &report.Evidence{Value: v, Origin: OriginAbsent, Location: in.Location()}
}

// pluginCheck passes when the plugin's enablement is want; otherwise the
// result is miss (fail, or manual for plugins CIS leaves to judgement).
func pluginCheck(plugin string, want bool, miss control.Status) func(*auditor, *Check) []audit.Result {
	return each(APIServer, func(_ *auditor, in *Instance) outcome {
		on, ev := admission(in, plugin)
		state := "disabled"
		if on {
			state = "enabled"
		}
		if on == want {
			return outcome{control.StatusPass, "admission plugin " + plugin + " is " + state, ev}
		}
		return outcome{miss, "admission plugin " + plugin + " is " + state, ev}
	})
}

// apiserverAuthz resolves kube-apiserver's authorizers: the types listed
// in --authorization-config (AuthorizationConfiguration), else
// --authorization-mode and its default.
func apiserverAuthz(a *auditor, in *Instance) Value {
	file, ok := in.Last("authorization-config")
	if !ok || file == "" {
		return in.Get("authorization-mode")
	}
	data, err := a.host.ReadFile(file)
	if err != nil {
		return Value{Err: file + ": " + reason(err)}
	}
	var cfg struct {
		Authorizers []struct {
			Type string `json:"type"`
		} `json:"authorizers"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return Value{Err: file + ": not valid YAML: " + firstLine(err.Error())}
	}
	types := make([]string, 0, len(cfg.Authorizers))
	for _, z := range cfg.Authorizers {
		types = append(types, z.Type)
	}
	return Value{Value: strings.Join(types, ","), Origin: OriginFile, Location: file + "#authorizers[].type"}
}

func authzCheck(ok func(string) bool, want string) func(*auditor, *Check) []audit.Result {
	return each(APIServer, func(a *auditor, in *Instance) outcome {
		return judge(apiserverAuthz(a, in), "authorization mode", want, ok)
	})
}

// strongCiphers are the cipher suites CIS accepts.
var strongCiphers = []string{
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// cipherCheck passes when --tls-cipher-suites lists only strong suites,
// fails when it lists a weak one, and is manual when unset (Go's defaults).
func cipherCheck(comp string) func(*auditor, *Check) []audit.Result {
	return each(comp, func(_ *auditor, in *Instance) outcome {
		v := in.Get("tls-cipher-suites")
		if v.Err != "" {
			return outcome{control.StatusWarn, "--tls-cipher-suites could not be resolved: " + v.Err, &report.Evidence{Origin: OriginAbsent}}
		}
		if !v.Set() || v.Value == "" {
			return outcome{control.StatusManual, "--tls-cipher-suites is not set: Go's default suites apply; review them against your policy", v.Evidence()}
		}
		var weak []string
		for _, s := range strings.Split(v.Value, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(strongCiphers, s) {
				weak = append(weak, s)
			}
		}
		if len(weak) > 0 {
			return outcome{control.StatusFail, "weak cipher suites allowed: " + strings.Join(weak, ", "), v.Evidence()}
		}
		return outcome{control.StatusPass, "only strong cipher suites allowed", v.Evidence()}
	})
}

// encryptionCheck reads --encryption-provider-config and passes when the
// first provider for secrets encrypts (aescbc, aesgcm, secretbox, kms).
func encryptionCheck(a *auditor, in *Instance) outcome {
	file, ok := in.Last("encryption-provider-config")
	if !ok || file == "" {
		return outcome{control.StatusFail, "--encryption-provider-config is not set: Secrets are stored unencrypted in etcd", &report.Evidence{Origin: OriginAbsent, Location: in.Location()}}
	}
	data, err := a.host.ReadFile(file)
	if err != nil {
		return outcome{control.StatusWarn, file + ": " + reason(err), &report.Evidence{Origin: OriginAbsent, Location: file}}
	}
	provider, err := SecretsProvider(data)
	if err != nil {
		return outcome{control.StatusWarn, file + ": " + err.Error(), &report.Evidence{Origin: OriginAbsent, Location: file}}
	}
	ev := &report.Evidence{Value: provider, Origin: OriginFile, Location: file + "#resources[].providers[0]"}
	switch provider {
	case "aescbc", "aesgcm", "secretbox", "kms":
		return outcome{control.StatusPass, "Secrets are written with the " + provider + " provider", ev}
	case "":
		return outcome{control.StatusFail, "no resources entry covers secrets", ev}
	}
	return outcome{control.StatusFail, "Secrets are written with the " + provider + " provider, which does not encrypt", ev}
}

// SecretsProvider parses an EncryptionConfiguration and returns the kind
// of the first provider of the first resources entry covering secrets
// (the one that writes), "" when none covers them.
func SecretsProvider(data []byte) (string, error) {
	var cfg struct {
		Kind      string `json:"kind"`
		Resources []struct {
			Resources []string         `json:"resources"`
			Providers []map[string]any `json:"providers"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("not valid YAML: %s", firstLine(err.Error()))
	}
	if cfg.Kind != "EncryptionConfiguration" && cfg.Kind != "EncryptionConfig" {
		return "", fmt.Errorf("kind %q, want EncryptionConfiguration", cfg.Kind)
	}
	for _, r := range cfg.Resources {
		if !slices.ContainsFunc(r.Resources, func(s string) bool { return s == "secrets" || s == "*.*" || s == "*." }) {
			continue
		}
		if len(r.Providers) == 0 {
			return "", fmt.Errorf("the entry for secrets has no provider")
		}
		for k := range r.Providers[0] {
			return k, nil
		}
	}
	return "", nil
}

// ParsePolicy parses an audit policy file.
func ParsePolicy(data []byte) (*auditv1.Policy, error) {
	var p auditv1.Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, fmt.Errorf("not a valid audit Policy: %s", firstLine(err.Error()))
	}
	if p.Kind != "Policy" || p.APIVersion != "audit.k8s.io/v1" {
		return nil, fmt.Errorf("kind %q apiVersion %q, want Policy audit.k8s.io/v1", p.Kind, p.APIVersion)
	}
	return &p, nil
}

// policyLevel returns the level at which a policy records a request by an
// ordinary user: the level of the first rule matching it (rules limited to
// particular users or groups are skipped), None when no rule matches.
func policyLevel(p *auditv1.Policy, verb, group, resource, sub string) auditv1.Level {
	full := resource
	if sub != "" {
		full += "/" + sub
	}
	for _, r := range p.Rules {
		if len(r.Users) > 0 || len(r.UserGroups) > 0 || len(r.NonResourceURLs) > 0 {
			continue
		}
		if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, verb) && !slices.Contains(r.Verbs, "*") {
			continue
		}
		if len(r.Resources) > 0 && !slices.ContainsFunc(r.Resources, func(g auditv1.GroupResources) bool {
			if g.Group != group && g.Group != "*" {
				return false
			}
			if len(g.Resources) == 0 {
				return true
			}
			return slices.ContainsFunc(g.Resources, func(s string) bool {
				return s == "*" || s == full || s == resource+"/*" || (sub == "" && s == resource) || (sub != "" && s == "*/"+sub)
			})
		}) {
			continue
		}
		return r.Level
	}
	return auditv1.LevelNone
}

// PolicyGaps lists what a policy misses of CIS 3.2.2's key concerns:
// Secret, ConfigMap and TokenReview access at Metadata (not below, which
// loses it, nor above, which writes the values to the log), and pod exec,
// attach, port-forward and proxy at Metadata or more.
func PolicyGaps(p *auditv1.Policy) []string {
	var gaps []string
	for _, c := range []struct{ verb, group, res string }{
		{"get", "", "secrets"}, {"get", "", "configmaps"}, {"create", "authentication.k8s.io", "tokenreviews"},
	} {
		switch l := policyLevel(p, c.verb, c.group, c.res, ""); l {
		case auditv1.LevelMetadata:
		case auditv1.LevelNone, "":
			gaps = append(gaps, c.res+" not logged")
		default:
			gaps = append(gaps, c.res+" logged at "+string(l)+" (records their values; use Metadata)")
		}
	}
	for _, c := range []struct{ res, sub string }{{"pods", "exec"}, {"pods", "attach"}, {"pods", "portforward"}, {"pods", "proxy"}, {"services", "proxy"}} {
		if policyLevel(p, "create", "", c.res, c.sub) == auditv1.LevelNone && policyLevel(p, "get", "", c.res, c.sub) == auditv1.LevelNone {
			gaps = append(gaps, c.res+"/"+c.sub+" not logged")
		}
	}
	return gaps
}

// auditPolicy reads --audit-policy-file of an instance: the policy, or the
// outcome to report instead.
func auditPolicy(a *auditor, in *Instance) (*auditv1.Policy, *report.Evidence, *outcome) {
	file, ok := in.Last("audit-policy-file")
	if !ok || file == "" {
		return nil, nil, &outcome{control.StatusFail, "--audit-policy-file is not set: no audit events are recorded", &report.Evidence{Origin: OriginAbsent, Location: in.Location()}}
	}
	data, err := a.host.ReadFile(file)
	if err != nil {
		return nil, nil, &outcome{control.StatusWarn, file + ": " + reason(err), &report.Evidence{Origin: OriginAbsent, Location: file}}
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, nil, &outcome{control.StatusWarn, file + ": " + err.Error(), &report.Evidence{Origin: OriginAbsent, Location: file}}
	}
	return p, &report.Evidence{Value: fmt.Sprintf("%d rules", len(p.Rules)), Origin: OriginFile, Location: file}, nil
}

// healthPaths are the endpoints CIS 1.2.1 lets anonymous requests reach
// ("or restrict anonymous requests to health endpoints").
var healthPaths = []string{"/livez", "/readyz", "/healthz"}

func isHealthPath(p string) bool {
	for _, h := range healthPaths {
		if p == h || strings.HasPrefix(p, h+"/") {
			return true
		}
	}
	return false
}

// apiserverAnonymous resolves kube-apiserver's anonymous authentication:
// the anonymous section of --authentication-config
// (AuthenticationConfiguration) when the file has one, else
// --anonymous-auth and its default. The boolean is true when the file
// limits anonymous requests to the health endpoints.
func apiserverAnonymous(a *auditor, in *Instance) (Value, bool) {
	file, ok := in.Last("authentication-config")
	if !ok || file == "" {
		return flagAnonymous(in), false
	}
	data, err := a.host.ReadFile(file)
	if err != nil {
		return Value{Err: file + ": " + reason(err)}, false
	}
	enabled, paths, present, err := ParseAnonymous(data)
	if err != nil {
		return Value{Err: file + ": " + err.Error()}, false
	}
	if !present {
		return flagAnonymous(in), false
	}
	v := Value{Value: strconv.FormatBool(enabled), Origin: OriginFile, Location: file + "#anonymous.enabled"}
	if !enabled || len(paths) == 0 {
		return v, false
	}
	v.Value = "true for " + strings.Join(paths, ",")
	v.Location = file + "#anonymous.conditions[].path"
	return v, !slices.ContainsFunc(paths, func(p string) bool { return !isHealthPath(p) })
}

// flagAnonymous resolves --anonymous-auth as kube-apiserver applies it:
// with AlwaysAllow among the --authorization-mode authorizers (the
// default when --authorization-config is not given), the API server turns
// anonymous authentication off ("AnonymousAuth is not allowed with the
// AlwaysAllow authorizer. Resetting AnonymousAuth to false").
func flagAnonymous(in *Instance) Value {
	v := in.Get("anonymous-auth")
	if !v.Set() || !truthy(v.Value) {
		return v
	}
	if cfg, ok := in.Last("authorization-config"); ok && cfg != "" {
		return v
	}
	if mode := in.Get("authorization-mode"); mode.Set() && listHas(mode.Value, "AlwaysAllow") {
		how := "--authorization-mode=" + mode.Value
		if mode.Origin == OriginDefault {
			how = "the default --authorization-mode AlwaysAllow"
		}
		v.Value = "false (--anonymous-auth=true reset by kube-apiserver: " + how + ")"
	}
	return v
}

// ParseAnonymous parses an AuthenticationConfiguration
// (apiserver.config.k8s.io) and returns its anonymous section: whether
// anonymous requests are enabled, the paths its conditions limit them to
// (none: every path), and whether the file has the section at all.
func ParseAnonymous(data []byte) (enabled bool, paths []string, present bool, err error) {
	var cfg struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Anonymous  *struct {
			Enabled    bool `json:"enabled"`
			Conditions []struct {
				Path string `json:"path"`
			} `json:"conditions"`
		} `json:"anonymous"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return false, nil, false, fmt.Errorf("not valid YAML: %s", firstLine(err.Error()))
	}
	if cfg.Kind != "AuthenticationConfiguration" || !strings.HasPrefix(cfg.APIVersion, "apiserver.config.k8s.io/") {
		return false, nil, false, fmt.Errorf("kind %q apiVersion %q, want AuthenticationConfiguration apiserver.config.k8s.io", cfg.Kind, cfg.APIVersion)
	}
	if cfg.Anonymous == nil {
		return false, nil, false, nil
	}
	for _, c := range cfg.Anonymous.Conditions {
		paths = append(paths, c.Path)
	}
	return cfg.Anonymous.Enabled, paths, true, nil
}

// anonymousCheck is CIS 1.2.1: anonymous requests off, or limited to the
// health endpoints by an AuthenticationConfiguration.
func anonymousCheck(a *auditor, in *Instance) outcome {
	v, healthOnly := apiserverAnonymous(a, in)
	if v.Err != "" {
		return outcome{control.StatusWarn, "anonymous authentication could not be resolved: " + v.Err, &report.Evidence{Origin: OriginAbsent}}
	}
	label := "--anonymous-auth"
	if v.Origin == OriginFile {
		label = "anonymous authentication"
	}
	switch {
	case healthOnly:
		return outcome{control.StatusPass, "anonymous requests are limited to health endpoints (" + strings.TrimPrefix(v.Value, "true for ") + ")", v.Evidence()}
	case equals("false")(v.Value):
		return outcome{control.StatusPass, describe(label, v), v.Evidence()}
	case strings.HasPrefix(v.Value, "false (") && v.Origin != OriginFile:
		return outcome{control.StatusPass, "anonymous authentication is off: kube-apiserver resets --anonymous-auth to false with the AlwaysAllow authorizer (which check 1.2.6 fails)", v.Evidence()}
	case v.Origin == OriginFile && v.Value != "true":
		return outcome{control.StatusFail, "anonymous requests are allowed beyond the health endpoints: " + strings.TrimPrefix(v.Value, "true for ") + "; want false or only " + strings.Join(healthPaths, ", "), v.Evidence()}
	}
	return outcome{control.StatusFail, describe(label, v) + "; want false", v.Evidence()}
}
