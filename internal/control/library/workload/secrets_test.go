package workload

import (
	"strings"
	"testing"
)

// Fake credentials are assembled at run time so that secret scanners do
// not flag this file; none of them is real.
var (
	fakeGitHub    = "ghp_" + strings.Repeat("aB3d", 9)
	fakeGitHubPAT = "github_pat_" + strings.Repeat("x1Y2", 10)
	fakeSlack     = "xoxb-" + "1234567890-abcdefghij"
	fakeGoogle    = "AIza" + strings.Repeat("Sy_b", 8) + "Q1w"
	fakeStripe    = "sk_" + "live_" + strings.Repeat("4eC39Hq", 4)
	fakeJWT       = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	fakePEM       = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
	fakeAWS       = "AKIA" + "IOSFODNN7EXAMPLE"
	fakeGitLab    = "glpat-" + strings.Repeat("Zx9_", 5)
)

func TestDetectSecret(t *testing.T) {
	tests := []struct {
		name     string
		envName  string
		value    string
		wantKind string // "" means not a secret
	}{
		// Known formats, whatever the variable name.
		{name: "aws access key id", envName: "X", value: fakeAWS, wantKind: "AWS access key ID"},
		{name: "github classic token", envName: "GH", value: fakeGitHub, wantKind: "GitHub token"},
		{name: "github fine-grained token", envName: "GH", value: fakeGitHubPAT, wantKind: "GitHub token"},
		{name: "gitlab token", envName: "CI", value: fakeGitLab, wantKind: "GitLab token"},
		{name: "slack token", envName: "NOTIFY", value: fakeSlack, wantKind: "Slack token"},
		{name: "google api key", envName: "MAPS", value: fakeGoogle, wantKind: "Google API key"},
		{name: "stripe live key", envName: "PAYMENTS", value: fakeStripe, wantKind: "Stripe secret key"},
		{name: "jwt", envName: "BEARER", value: fakeJWT, wantKind: "JSON Web Token"},
		{name: "pem private key", envName: "TLS", value: fakePEM, wantKind: "private key"},
		{name: "url with password", envName: "DATABASE_URL", value: "postgres://app:s3cr3tPw@db:5432/app", wantKind: "URL with an embedded password"},
		{name: "amqp default creds", envName: "BROKER", value: "amqp://guest:guest@rabbitmq:5672/", wantKind: "URL with an embedded password"},
		// Password-like names: any real value.
		{name: "password", envName: "MYSQL_ROOT_PASSWORD", value: "supersecret", wantKind: "password"},
		{name: "weak password still a password", envName: "GF_SECURITY_ADMIN_PASSWORD", value: "admin", wantKind: "password"},
		{name: "numeric password", envName: "DB_PASS", value: "12345678", wantKind: "password"},
		{name: "camel case password", envName: "dbPassword", value: "hunter22", wantKind: "password"},
		{name: "passwd", envName: "LDAP_PASSWD", value: "Tr0ub4dor&3", wantKind: "password"},
		// Secret-like names: random-looking values.
		{name: "access key", envName: "ACCESS_KEY", value: "8312341g-5678-abcd-4a2b2c-33bcsd655", wantKind: "secret, token or key"},
		{name: "secret key", envName: "MINIO_SECRET_KEY", value: "minio123", wantKind: "secret, token or key"},
		{name: "api key", envName: "API_KEY", value: "f3a9c1e07b2d4e5f", wantKind: "secret, token or key"},
		{name: "client secret", envName: "OAUTH_CLIENT_SECRET", value: "Qm9vbGVhbk5vdA==", wantKind: "secret, token or key"},
		{name: "token", envName: "SLACK_BOT_TOKEN", value: "a8f5f167f44f4964e6c998dee827110c", wantKind: "secret, token or key"},
		// Not secrets.
		{name: "empty", envName: "DB_PASSWORD", value: ""},
		{name: "blank", envName: "DB_PASSWORD", value: "   "},
		{name: "too short password", envName: "DB_PASSWORD", value: "abc"},
		{name: "reference", envName: "DB_PASSWORD", value: "$(DB_PASSWORD_FROM_SECRET)"},
		{name: "shell reference", envName: "DB_PASSWORD", value: "${DB_PASSWORD}"},
		{name: "template", envName: "API_TOKEN", value: "{{ .Values.token }}"},
		{name: "placeholder changeme", envName: "DB_PASSWORD", value: "changeme"},
		{name: "placeholder angle", envName: "API_TOKEN", value: "<your-token>"},
		{name: "placeholder insert", envName: "ETCD_DISCOVERY_TOKEN", value: "INSERT_ETCD_DISCOVERY_TOKEN"},
		{name: "placeholder xxx", envName: "API_KEY", value: "xxxxxxxxxxxx"},
		{name: "boolean", envName: "GF_AUTH_BASIC_ENABLED", value: "false"},
		{name: "boolean under secret name", envName: "USE_SECRET", value: "true"},
		{name: "file path", envName: "TOKEN_FILE", value: "/var/run/secrets/token"},
		{name: "path value", envName: "GOOGLE_CREDENTIALS", value: "/etc/gcp/key.json"},
		{name: "secret name", envName: "TLS_SECRET_NAME", value: "ingress-tls-cert"},
		{name: "username", envName: "MINIO_ACCESS_KEY", value: "minio"},
		{name: "key id suffix", envName: "SIGNING_KEY_ID", value: "kid-2024-01-primary"},
		{name: "url without credentials", envName: "TOKEN_ENDPOINT", value: "https://auth.example.com/token"},
		{name: "url value under secret name", envName: "SECRET_STORE_ADDR", value: "https://vault:8200"},
		{name: "url with user only", envName: "REPO", value: "https://user@git.example.com/repo.git"},
		{name: "url password is a reference", envName: "DATABASE_URL", value: "postgres://app:$(DB_PASSWORD)@db/app"},
		{name: "number under token name", envName: "REFRESH_TOKEN", value: "3600000000"},
		{name: "low entropy", envName: "API_KEY", value: "abababababab"},
		{name: "sentence", envName: "SECRET_HINT", value: "ask the platform team"},
		{name: "working directory", envName: "PWD", value: "/home/app"},
		{name: "public key", envName: "JWT_PUBLIC_KEY", value: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"},
		{name: "unrelated name", envName: "LOG_LEVEL", value: "debug-verbose-mode"},
		{name: "keycloak is not a key", envName: "KEYCLOAK_REALM", value: "production-realm"},
		{name: "monkey is not a key", envName: "CHAOS_MONKEY", value: "enabled-for-staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, ok := DetectSecret(tt.envName, tt.value)
			if ok != (tt.wantKind != "") || kind != tt.wantKind {
				t.Errorf("DetectSecret(%q, <value>) = %q, %v; want %q", tt.envName, kind, ok, tt.wantKind)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty stays empty", in: "", want: ""},
		{name: "value hidden", in: "hunter2", want: Redacted},
		{name: "long value hidden", in: fakeJWT, want: Redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkDetectSecret(b *testing.B) {
	names := []string{"LOG_LEVEL", "DB_PASSWORD", "API_TOKEN", "JAVA_OPTS", "POD_NAME"}
	values := []string{"info", "s3cr3t-pw", "3f2a9c1e07b2d4e5f", "-Xmx512m -XX:+UseG1GC", "my-pod"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		DetectSecret(names[i%len(names)], values[i%len(values)])
	}
}
