package workload

import (
	"slices"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/controltest"
)

// run evaluates control id on every object of doc it applies to and returns
// the violations; applied counts the objects evaluated.
func run(t testing.TB, id, doc string, s *control.Settings) (vs []control.Violation, applied int) {
	t.Helper()
	c := controltest.ByID(t, Controls, id)
	for _, o := range controltest.Decode(t, doc) {
		if !c.Applies(o) {
			continue
		}
		applied++
		vs = append(vs, controltest.RunWith(t, c, o, s)...)
	}
	return vs, applied
}

// podYAML wraps a pod spec body (indented by 2) into a Pod.
func podYAML(spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\nspec:\n" + spec
}

// deploy wraps a pod spec body (indented by 2) into a Deployment.
func deploy(spec string) string {
	indented := strings.ReplaceAll("\n"+strings.TrimSuffix(spec, "\n"), "\n", "\n      ")
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: shop\nspec:\n  template:\n    spec:" + indented + "\n"
}

const digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestControls(t *testing.T) {
	allowed := &control.Settings{AllowedRegistries: []string{"ghcr.io/acme", "registry.example.com"}}
	goodResources := "    resources:\n      requests: {cpu: 100m, memory: 64Mi}\n      limits: {cpu: 500m, memory: 128Mi}\n"
	probes := "    readinessProbe: {httpGet: {path: /ready, port: 8080}}\n    livenessProbe: {httpGet: {path: /healthz, port: 8080}}\n"
	tests := []struct {
		name      string
		id        string
		doc       string
		settings  *control.Settings
		wantPaths []string // paths of the expected violations, in order
		wantNone  bool     // the control must not apply at all
	}{
		// image-tag-latest
		{name: "latest tag", id: "image-tag-latest", doc: podYAML("  containers:\n  - name: a\n    image: nginx:latest\n"), wantPaths: []string{"spec.containers[0].image"}},
		{name: "no tag", id: "image-tag-latest", doc: podYAML("  containers:\n  - name: a\n    image: nginx\n"), wantPaths: []string{"spec.containers[0].image"}},
		{name: "registry port is not a tag", id: "image-tag-latest", doc: podYAML("  containers:\n  - name: a\n    image: localhost:5000/app\n"), wantPaths: []string{"spec.containers[0].image"}},
		{name: "registry port with tag", id: "image-tag-latest", doc: podYAML("  containers:\n  - name: a\n    image: registry:5000/app:1.2\n")},
		{name: "latest pinned by digest", id: "image-tag-latest", doc: podYAML("  containers:\n  - name: a\n    image: nginx:latest" + digest + "\n")},
		{name: "init and ephemeral containers", id: "image-tag-latest", doc: podYAML("  initContainers:\n  - name: i\n    image: busybox\n  containers:\n  - name: a\n    image: nginx:1.27\n  ephemeralContainers:\n  - name: e\n    image: busybox:latest\n"),
			wantPaths: []string{"spec.initContainers[0].image", "spec.ephemeralContainers[0].image"}},
		{name: "cronjob path", id: "image-tag-latest", doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: a\n            image: app\n",
			wantPaths: []string{"spec.jobTemplate.spec.template.spec.containers[0].image"}},
		{name: "service is not a workload", id: "image-tag-latest", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", wantNone: true},
		// image-not-pinned
		{name: "tag only", id: "image-not-pinned", doc: deploy("containers:\n- name: a\n  image: nginx:1.27\n"), wantPaths: []string{"spec.template.spec.containers[0].image"}},
		{name: "digest", id: "image-not-pinned", doc: deploy("containers:\n- name: a\n  image: nginx:1.27" + digest + "\n")},
		{name: "short digest", id: "image-not-pinned", doc: deploy("containers:\n- name: a\n  image: nginx@sha256:abc\n"), wantPaths: []string{"spec.template.spec.containers[0].image"}},
		// untrusted-registry
		{name: "empty allow list passes", id: "untrusted-registry", doc: podYAML("  containers:\n  - name: a\n    image: evil.example.net/x:1\n")},
		{name: "allowed org", id: "untrusted-registry", settings: allowed, doc: podYAML("  containers:\n  - name: a\n    image: ghcr.io/acme/api:1\n  - name: b\n    image: registry.example.com/x/y:2\n")},
		{name: "docker hub not allowed", id: "untrusted-registry", settings: allowed, doc: podYAML("  containers:\n  - name: a\n    image: ghcr.io/acme/api:1\n  - name: b\n    image: nginx:1.27\n"), wantPaths: []string{"spec.containers[1].image"}},
		{name: "lookalike org", id: "untrusted-registry", settings: allowed, doc: podYAML("  initContainers:\n  - name: a\n    image: ghcr.io/acmecorp/api:1\n  containers:\n  - name: b\n    image: ghcr.io/acme/api:1\n"), wantPaths: []string{"spec.initContainers[0].image"}},
		// missing-resource-limits / requests
		{name: "no resources", id: "missing-resource-limits", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n"), wantPaths: []string{"spec.containers[0].resources.limits"}},
		{name: "memory limit missing", id: "missing-resource-limits", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    resources:\n      limits: {cpu: 100m}\n"), wantPaths: []string{"spec.containers[0].resources.limits"}},
		{name: "limits set", id: "missing-resource-limits", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n" + goodResources)},
		{name: "pod-level limits count", id: "missing-resource-limits", doc: podYAML("  resources:\n    limits: {cpu: '1', memory: 1Gi}\n  containers:\n  - name: a\n    image: x:1\n")},
		{name: "init container checked, ephemeral not", id: "missing-resource-limits", doc: podYAML("  initContainers:\n  - name: i\n    image: x:1\n  containers:\n  - name: a\n    image: x:1\n" + goodResources + "  ephemeralContainers:\n  - name: e\n    image: x:1\n"),
			wantPaths: []string{"spec.initContainers[0].resources.limits"}},
		{name: "requests missing cpu", id: "missing-resource-requests", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    resources:\n      requests: {memory: 64Mi}\n"), wantPaths: []string{"spec.containers[0].resources.requests"}},
		{name: "requests set", id: "missing-resource-requests", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n" + goodResources)},
		// missing-probes
		{name: "deployment without probes", id: "missing-probes", doc: deploy("containers:\n- name: a\n  image: x:1\n"), wantPaths: []string{"spec.template.spec.containers[0]"}},
		{name: "readiness only", id: "missing-probes", doc: deploy("containers:\n- name: a\n  image: x:1\n  readinessProbe: {tcpSocket: {port: 80}}\n"), wantPaths: []string{"spec.template.spec.containers[0].livenessProbe"}},
		{name: "both probes", id: "missing-probes", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n" + probes)},
		{name: "job skipped", id: "missing-probes", doc: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: a\n        image: x:1\n", wantNone: true},
		{name: "run-to-completion pod skipped", id: "missing-probes", doc: podYAML("  restartPolicy: OnFailure\n  containers:\n  - name: a\n    image: x:1\n"), wantNone: true},
		{name: "init skipped, native sidecar checked", id: "missing-probes", doc: podYAML("  initContainers:\n  - name: init\n    image: x:1\n  - name: sidecar\n    image: x:1\n    restartPolicy: Always\n  containers:\n  - name: a\n    image: x:1\n" + probes),
			wantPaths: []string{"spec.initContainers[1]"}},
		// service-account-token-automount
		{name: "automount unset", id: "service-account-token-automount", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n"), wantPaths: []string{"spec"}},
		{name: "automount true", id: "service-account-token-automount", doc: podYAML("  automountServiceAccountToken: true\n  containers:\n  - name: a\n    image: x:1\n"), wantPaths: []string{"spec.automountServiceAccountToken"}},
		{name: "automount false", id: "service-account-token-automount", doc: podYAML("  automountServiceAccountToken: false\n  containers:\n  - name: a\n    image: x:1\n")},
		// default-service-account
		{name: "unset service account", id: "default-service-account", doc: deploy("containers:\n- name: a\n  image: x:1\n"), wantPaths: []string{"spec.template.spec"}},
		{name: "explicit default", id: "default-service-account", doc: deploy("serviceAccountName: default\ncontainers:\n- name: a\n  image: x:1\n"), wantPaths: []string{"spec.template.spec.serviceAccountName"}},
		{name: "deprecated field default", id: "default-service-account", doc: deploy("serviceAccount: default\ncontainers:\n- name: a\n  image: x:1\n"), wantPaths: []string{"spec.template.spec.serviceAccount"}},
		{name: "dedicated service account", id: "default-service-account", doc: deploy("serviceAccountName: billing\ncontainers:\n- name: a\n  image: x:1\n")},
		// hardcoded-secret-in-env
		{name: "password literal", id: "hardcoded-secret-in-env", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    env:\n    - name: LOG_LEVEL\n      value: info\n    - name: DB_PASSWORD\n      value: s3cr3t-pw\n"), wantPaths: []string{"spec.containers[0].env[1].value"}},
		{name: "aws key in init container", id: "hardcoded-secret-in-env", doc: podYAML("  initContainers:\n  - name: i\n    image: x:1\n    env:\n    - name: AWS_ACCESS_KEY_ID\n      value: " + fakeAWS + "\n  containers:\n  - name: a\n    image: x:1\n"), wantPaths: []string{"spec.initContainers[0].env[0].value"}},
		{name: "secret ref is not literal", id: "hardcoded-secret-in-env", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    env:\n    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n")},
		{name: "non-string value ignored", id: "hardcoded-secret-in-env", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    env:\n    - name: DB_PASSWORD\n      value: 12345678\n")},
		// secret-in-env-var
		{name: "secretKeyRef and envFrom", id: "secret-in-env-var", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    env:\n    - name: A\n      value: b\n    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n    envFrom:\n    - configMapRef: {name: cfg}\n    - secretRef: {name: api}\n"),
			wantPaths: []string{"spec.containers[0].env[1].valueFrom.secretKeyRef", "spec.containers[0].envFrom[1].secretRef"}},
		{name: "configmap only", id: "secret-in-env-var", doc: podYAML("  containers:\n  - name: a\n    image: x:1\n    env:\n    - name: A\n      valueFrom:\n        configMapKeyRef: {name: cfg, key: a}\n")},
		// default-namespace
		{name: "configmap in default", id: "default-namespace", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\n", wantPaths: []string{"metadata.namespace"}},
		{name: "no namespace", id: "default-namespace", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"},
		{name: "other namespace", id: "default-namespace", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n"},
		{name: "cluster-scoped skipped", id: "default-namespace", doc: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: c\n  namespace: default\n", wantNone: true},
		{name: "custom resource in default", id: "default-namespace", doc: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: c\n  namespace: default\n", wantPaths: []string{"metadata.namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.id+"/"+tt.name, func(t *testing.T) {
			vs, applied := run(t, tt.id, tt.doc, tt.settings)
			if tt.wantNone {
				if applied != 0 {
					t.Errorf("control applied to %d objects, want none", applied)
				}
				return
			}
			if applied == 0 {
				t.Fatal("control did not apply")
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.Path)
				if v.Message == "" {
					t.Errorf("violation without message: %+v", v)
				}
				if strings.Contains(v.Path, "containers[") && v.Container == "" {
					t.Errorf("container violation without container name: %+v", v)
				}
			}
			if !slices.Equal(got, tt.wantPaths) {
				t.Errorf("violation paths = %q, want %q", got, tt.wantPaths)
			}
		})
	}
}

// TestNoSecretValueInMessages checks that hardcoded-secret-in-env never
// echoes the value it found, in whole or in part.
func TestNoSecretValueInMessages(t *testing.T) {
	secrets := []struct {
		name  string
		env   string
		value string
	}{
		{name: "aws", env: "AWS_ACCESS_KEY_ID", value: fakeAWS},
		{name: "github", env: "GITHUB_TOKEN", value: fakeGitHub},
		{name: "slack", env: "SLACK", value: fakeSlack},
		{name: "stripe", env: "STRIPE", value: fakeStripe},
		{name: "jwt", env: "SESSION", value: fakeJWT},
		{name: "url password", env: "DATABASE_URL", value: "postgres://app:Pw9xLq2ZrT@db:5432/app"},
		{name: "password", env: "DB_PASSWORD", value: "Tr0ub4dor-and-3"},
		{name: "random key", env: "API_KEY", value: "f3a9c1e07b2d4e5f"},
	}
	for _, s := range secrets {
		t.Run(s.name, func(t *testing.T) {
			doc := podYAML("  containers:\n  - name: api\n    image: x:1\n    env:\n    - name: " + s.env + "\n      value: '" + s.value + "'\n")
			vs, _ := run(t, "hardcoded-secret-in-env", doc, nil)
			if len(vs) != 1 {
				t.Fatalf("want 1 violation, got %d", len(vs))
			}
			msg := vs[0].Message
			if !strings.Contains(msg, s.env) || !strings.Contains(msg, Redacted) {
				t.Errorf("message %q should name %s and say the value is redacted", msg, s.env)
			}
			// No 6-character window of the value may appear.
			for i := 0; i+6 <= len(s.value); i++ {
				if w := s.value[i : i+6]; strings.Contains(msg, w) {
					t.Fatalf("message %q leaks part of the value (%q)", msg, w)
				}
			}
		})
	}
}

// TestMetadata checks the family's metadata is complete and well-formed.
func TestMetadata(t *testing.T) {
	cs := controltest.Controls(t, Controls)
	wantSeverity := map[string]string{
		"hardcoded-secret-in-env": "high", "image-tag-latest": "medium", "untrusted-registry": "high",
		"image-not-pinned": "low", "missing-resource-limits": "medium", "missing-resource-requests": "low",
		"missing-probes": "low", "service-account-token-automount": "medium", "default-service-account": "low",
		"secret-in-env-var": "low", "default-namespace": "low",
	}
	if len(cs) != len(wantSeverity) {
		t.Errorf("got %d controls, want %d", len(cs), len(wantSeverity))
	}
	for _, c := range cs {
		t.Run(c.ID, func(t *testing.T) {
			if got := c.Severity.String(); got != wantSeverity[c.ID] {
				t.Errorf("severity %s, want %s", got, wantSeverity[c.ID])
			}
			switch c.Category {
			case "supply-chain", "workload", "secrets":
			default:
				t.Errorf("unexpected category %q", c.Category)
			}
			if !strings.Contains(c.Remediation, "```yaml") {
				t.Error("remediation has no ```yaml block")
			}
			for _, r := range c.References {
				if !strings.HasPrefix(r, "https://") {
					t.Errorf("reference %q is not https", r)
				}
			}
		})
	}
}

func BenchmarkChecks(b *testing.B) {
	doc := deploy("containers:\n- name: a\n  image: ghcr.io/acme/api:1.2\n  env:\n  - name: LOG_LEVEL\n    value: info\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: db, key: password}\n  resources:\n    limits: {cpu: 500m, memory: 128Mi}\n")
	objs := controltest.Decode(b, doc)
	cs := controltest.Controls(b, Controls)
	s := &control.Settings{AllowedRegistries: []string{"ghcr.io/acme"}}
	ctx := &control.Context{Obj: objs[0], Settings: s}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, c := range cs {
			ctx.Violations = ctx.Violations[:0]
			if c.Applies(objs[0]) {
				c.Check(ctx)
			}
		}
	}
}
