package node

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/rampart-dev/rampart/internal/report"
)

// Origins of a value, as report.Evidence names them.
const (
	OriginFlag    = "flag"
	OriginFile    = "file"
	OriginDefault = "default"
	OriginStat    = "stat"
	OriginAbsent  = "absent"
)

// Value is a setting of one component instance, resolved as the component
// resolves it, with where it came from.
type Value struct {
	// Value is the effective value ("" when absent).
	Value string
	// Origin is flag, file, default or absent.
	Origin string
	// Location is where it was read: /proc/PID/cmdline, a config file
	// ("path#field"), or what the default is the default of.
	Location string
	// Err is why the value could not be resolved (its config file could
	// not be read or parsed); the other fields are then empty.
	Err string
}

// Set reports whether the setting has a value (given or defaulted).
func (v Value) Set() bool { return v.Err == "" && v.Origin != OriginAbsent }

// Evidence is the report form of v.
func (v Value) Evidence() *report.Evidence {
	return &report.Evidence{Value: v.Value, Origin: v.Origin, Location: v.Location}
}

// setting describes how one flag resolves: its binary default, and for
// components with a config file, the file's field and the default its API
// version gives it.
type setting struct {
	// def is the flag's default in the binary ("" means unset).
	def string
	// field is the config file field (dotted path), "" when the file has none.
	field string
	// fileDef is the default of field in the config file's API version.
	fileDef string
}

// settings are the defaults of Kubernetes v1.37 (cmd/*/app/options and
// pkg/kubelet/apis/config/v1beta1/defaults.go) for the flags the checks read.
var settings = map[string]map[string]setting{
	APIServer: {
		"anonymous-auth":         {def: "true"},
		"authorization-mode":     {def: "AlwaysAllow"},
		"profiling":              {def: "true"},
		"service-account-lookup": {def: "true"},
		"request-timeout":        {def: "1m0s"},
		"audit-log-maxage":       {def: "0"},
		"audit-log-maxbackup":    {def: "0"},
		"audit-log-maxsize":      {def: "0"},
	},
	ControllerManager: {
		"profiling":                       {def: "true"},
		"use-service-account-credentials": {def: "false"},
		"bind-address":                    {def: "0.0.0.0"},
		"terminated-pod-gc-threshold":     {def: "12500"},
	},
	Scheduler: {
		"profiling":    {def: "true"},
		"bind-address": {def: "0.0.0.0"},
	},
	Etcd: {
		"client-cert-auth":      {def: "false", field: "client-transport-security.client-cert-auth"},
		"auto-tls":              {def: "false", field: "client-transport-security.auto-tls"},
		"cert-file":             {field: "client-transport-security.cert-file"},
		"key-file":              {field: "client-transport-security.key-file"},
		"trusted-ca-file":       {field: "client-transport-security.trusted-ca-file"},
		"peer-client-cert-auth": {def: "false", field: "peer-transport-security.client-cert-auth"},
		"peer-auto-tls":         {def: "false", field: "peer-transport-security.auto-tls"},
		"peer-cert-file":        {field: "peer-transport-security.cert-file"},
		"peer-key-file":         {field: "peer-transport-security.key-file"},
		"peer-trusted-ca-file":  {field: "peer-transport-security.trusted-ca-file"},
		"data-dir":              {def: "default.etcd", field: "data-dir"},
	},
	// The kubelet's flag defaults keep the legacy insecure values
	// (applyLegacyDefaults); KubeletConfiguration v1beta1 defaults are safe.
	Kubelet: {
		"anonymous-auth":                    {def: "true", field: "authentication.anonymous.enabled", fileDef: "false"},
		"authentication-token-webhook":      {def: "false", field: "authentication.webhook.enabled", fileDef: "true"},
		"authorization-mode":                {def: "AlwaysAllow", field: "authorization.mode", fileDef: "Webhook"},
		"client-ca-file":                    {field: "authentication.x509.clientCAFile"},
		"read-only-port":                    {def: "10255", field: "readOnlyPort", fileDef: "0"},
		"streaming-connection-idle-timeout": {def: "4h0m0s", field: "streamingConnectionIdleTimeout", fileDef: "4h0m0s"},
		"make-iptables-util-chains":         {def: "true", field: "makeIPTablesUtilChains", fileDef: "true"},
		"hostname-override":                 {},
		"event-qps":                         {def: "50", field: "eventRecordQPS", fileDef: "50"},
		"tls-cert-file":                     {field: "tlsCertFile"},
		"tls-private-key-file":              {field: "tlsPrivateKeyFile"},
		"tls-cipher-suites":                 {field: "tlsCipherSuites"},
		"rotate-certificates":               {def: "false", field: "rotateCertificates", fileDef: "false"},
		"rotate-server-certificates":        {def: "false", field: "serverTLSBootstrap", fileDef: "false"},
		"pod-max-pids":                      {def: "-1", field: "podPidsLimit", fileDef: "-1"},
		"pod-manifest-path":                 {field: "staticPodPath"},
		"feature-gates":                     {field: "featureGates"},
		"kubeconfig":                        {},
	},
	Proxy: {
		"metrics-bind-address": {def: "127.0.0.1:10249", field: "metricsBindAddress", fileDef: "127.0.0.1:10249"},
		"kubeconfig":           {field: "clientConnection.kubeconfig"},
	},
}

// configFlag names the flag that points at a component's config file.
var configFlag = map[string]string{Kubelet: "config", Proxy: "config", Etcd: "config-file"}

// configKinds are the config file kinds and API versions each component
// accepts ("" when the file has no TypeMeta, as etcd's).
var configKinds = map[string][2]string{
	Kubelet: {"KubeletConfiguration", "kubelet.config.k8s.io/v1beta1"},
	Proxy:   {"KubeProxyConfiguration", "kubeproxy.config.k8s.io/v1alpha1"},
}

// layer is one parsed config file.
type layer struct {
	path string
	data map[string]any
}

// Instance is a component process with its config file loaded.
type Instance struct {
	*Process
	// Config are the config file and, for the kubelet, its drop-ins in
	// the order they apply.
	config []layer
	// configErr is why the config file could not be used.
	configErr string
}

// newInstance loads the config file of p, if it names one.
func newInstance(h Host, p *Process) *Instance {
	in := &Instance{Process: p}
	flag := configFlag[p.Component]
	if flag == "" {
		return in
	}
	file, ok := p.Last(flag)
	if !ok && p.Component == Etcd {
		file, ok = p.Env["config-file"]
	}
	if ok && file != "" {
		l, err := loadConfig(h, p.Component, file)
		if err != nil {
			in.configErr = err.Error()
			return in
		}
		in.config = append(in.config, l)
	}
	if dir, ok := p.Last("config-dir"); ok && p.Component == Kubelet && dir != "" && in.configErr == "" {
		ents, err := h.ReadDir(dir)
		if err != nil {
			in.configErr = fmt.Sprintf("%s: %s", dir, reason(err))
			return in
		}
		for _, e := range ents { // sorted by name, as the kubelet applies them
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			l, err := loadConfig(h, p.Component, path.Join(dir, e.Name()))
			if err != nil {
				in.configErr = err.Error()
				return in
			}
			in.config = append(in.config, l)
		}
	}
	return in
}

// ConfigPath is the instance's main config file, "" when it has none.
func (in *Instance) ConfigPath() string {
	if len(in.config) > 0 {
		return in.config[0].path
	}
	if flag := configFlag[in.Component]; flag != "" {
		v, _ := in.Last(flag)
		return v
	}
	return ""
}

// loadConfig reads and parses a component config file.
func loadConfig(h Host, comp, file string) (layer, error) {
	data, err := h.ReadFile(file)
	if err != nil {
		return layer{}, fmt.Errorf("%s: %s", file, reason(err))
	}
	m, err := ParseConfig(comp, data)
	if err != nil {
		return layer{}, fmt.Errorf("%s: %w", file, err)
	}
	return layer{path: file, data: m}, nil
}

// ParseConfig parses a component config file (YAML or JSON) and checks
// its kind and API version.
func ParseConfig(comp string, data []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", firstLine(err.Error()))
	}
	if m == nil {
		m = map[string]any{}
	}
	if want, ok := configKinds[comp]; ok {
		kind, _ := m["kind"].(string)
		apiVersion, _ := m["apiVersion"].(string)
		if kind != want[0] || apiVersion != want[1] {
			return nil, fmt.Errorf("kind %q apiVersion %q, want %s %s", kind, apiVersion, want[0], want[1])
		}
	}
	return m, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Get resolves a flag of the instance by the component's rules:
//   - kubelet: the flag, else the config file (drop-ins last), else the
//     defaults of KubeletConfiguration v1beta1 when a config file is given,
//     else the flag's default;
//   - kube-proxy: with --config the file and its defaults (flags are
//     ignored), else the flag and its default;
//   - etcd: with --config-file the file only, else the flag, else the
//     ETCD_* variable, else the default;
//   - the others: the flag, else its default.
func (in *Instance) Get(name string) Value {
	s := settings[in.Component][name]
	withFile := in.configErr != "" || len(in.config) > 0
	if withFile && s.field != "" && (in.Component == Proxy || in.Component == Etcd) {
		return in.fromFile(name, s)
	}
	if v, ok := in.Last(name); ok {
		return Value{Value: v, Origin: OriginFlag, Location: in.Location()}
	}
	if in.Component == Etcd {
		if v, ok := in.Env[name]; ok {
			return Value{Value: v, Origin: OriginFlag, Location: fmt.Sprintf("/proc/%d/environ", in.PID)}
		}
	}
	if withFile && s.field != "" {
		return in.fromFile(name, s)
	}
	if s.def != "" {
		return Value{Value: s.def, Origin: OriginDefault, Location: in.Component + " --" + name + " default"}
	}
	return Value{Origin: OriginAbsent, Location: in.Location()}
}

func (in *Instance) fromFile(name string, s setting) Value {
	if in.configErr != "" {
		return Value{Err: "config file " + in.configErr}
	}
	for i := len(in.config) - 1; i >= 0; i-- {
		if v, ok := lookup(in.config[i].data, s.field); ok {
			return Value{Value: v, Origin: OriginFile, Location: in.config[i].path + "#" + s.field}
		}
	}
	def := s.fileDef
	if in.Component == Etcd {
		def = s.def
	}
	if def == "" {
		return Value{Origin: OriginAbsent, Location: in.config[0].path + "#" + s.field}
	}
	version := in.Component + " config file"
	if k, ok := configKinds[in.Component]; ok {
		version = k[1] + " " + k[0]
	}
	return Value{Value: def, Origin: OriginDefault, Location: version + " default of " + s.field}
}

// lookup returns the value of a dotted field path as a string: lists
// comma-joined, maps as sorted k=v pairs, numbers without exponent.
func lookup(m map[string]any, field string) (string, bool) {
	var cur any = m
	for _, k := range strings.Split(field, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = mm[k]; !ok {
			return "", false
		}
	}
	if cur == nil {
		return "", false
	}
	return scalar(cur), true
}

func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			out[i] = scalar(e)
		}
		return strings.Join(out, ",")
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k + "=" + scalar(v[k])
		}
		return strings.Join(out, ",")
	}
	return fmt.Sprint(v)
}

// FeatureGate resolves a feature gate from --feature-gates (and, for the
// kubelet, its config file's featureGates) against its default.
func (in *Instance) FeatureGate(gate string, def bool) Value {
	v := in.Get("feature-gates")
	if v.Err != "" {
		return v
	}
	if v.Set() {
		for _, kv := range strings.Split(v.Value, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if k == gate {
				return Value{Value: val, Origin: v.Origin, Location: v.Location}
			}
		}
	}
	return Value{Value: strconv.FormatBool(def), Origin: OriginDefault, Location: "feature gate " + gate + " default"}
}
