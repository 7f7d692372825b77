package workload

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
)

// Redacted replaces secret values wherever Rampart would otherwise show them.
const Redacted = "[REDACTED]"

// Redact returns a placeholder for a secret value: it never returns any
// part of s, only Redacted (or "" when s is empty, so that absence stays
// visible).
func Redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// secretFormat is a credential format recognisable from the value alone.
type secretFormat struct {
	kind  string
	hints []string // the value must contain one of these before re runs
	re    *regexp.Regexp
}

// secretFormats are compiled once; each regexp runs only on values
// containing one of its hints.
var secretFormats = []secretFormat{
	{"AWS access key ID", []string{"AKIA", "ASIA", "ABIA", "ACCA"}, regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`)},
	{"GitHub token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})\b`)},
	{"GitLab token", []string{"glpat-"}, regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"Slack token", []string{"xox"}, regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"Slack webhook URL", []string{"hooks.slack.com/services/"}, regexp.MustCompile(`hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]{8,}`)},
	{"private key", []string{"PRIVATE KEY"}, regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)},
	{"Google API key", []string{"AIza"}, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`)},
	{"Stripe secret key", []string{"k_live_"}, regexp.MustCompile(`\b[rs]k_live_[0-9A-Za-z]{16,}`)},
	{"npm token", []string{"npm_"}, regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`)},
	{"SendGrid API key", []string{"SG."}, regexp.MustCompile(`\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`)},
	{"OpenAI API key", []string{"T3BlbkFJ"}, regexp.MustCompile(`\bsk-[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]{16,}`)},
	{"Anthropic API key", []string{"sk-ant-"}, regexp.MustCompile(`\bsk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{80,}`)},
	{"JSON Web Token", []string{"eyJ"}, regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
}

// credentialURL matches "scheme://user:password@host"; group 1 is the password.
var credentialURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@[^\s/@]`)

// nameStrength says how strongly an env var name suggests a credential.
type nameStrength int

const (
	nameNone nameStrength = iota
	// nameWeak: SECRET, TOKEN, KEY, CREDENTIAL… the value must also look random.
	nameWeak
	// namePassword: PASSWORD, PASSWD, PASS, PWD… any real value is a password.
	namePassword
)

// nonSecretSuffixes are last name tokens that make a sensitive-sounding
// name hold something else: SECRET_NAME, TOKEN_FILE, PASSWORD_PATH…
var nonSecretSuffixes = map[string]bool{
	"FILE": true, "FILES": true, "PATH": true, "DIR": true, "NAME": true, "NAMES": true, "USER": true, "USERNAME": true,
	"LOGIN": true, "ID": true, "URL": true, "URI": true, "HOST": true, "PORT": true, "ADDR": true, "ADDRESS": true,
	"ENDPOINT": true, "ENABLED": true, "ENABLE": true, "DISABLED": true, "DISABLE": true, "TYPE": true, "TTL": true,
	"TIMEOUT": true, "EXPIRY": true, "EXPIRATION": true, "LENGTH": true, "SIZE": true, "SECONDS": true,
	"DURATION": true, "INTERVAL": true, "HEADER": true, "PREFIX": true, "SUFFIX": true, "ISSUER": true,
	"AUDIENCE": true, "ALGORITHM": true, "ALG": true, "REF": true, "NAMESPACE": true, "MOUNT": true,
	"VERSION": true, "MODE": true, "FORMAT": true, "COUNT": true, "REGION": true, "FIELD": true, "PROVIDER": true,
	"BACKEND": true, "STORE": true, "LOCATION": true, "SOURCE": true, "KIND": true, "POLICY": true, "ROLE": true,
	"SCOPE": true, "SCOPES": true, "REQUIRED": true, "HASH": true, "POLICIES": true, "RESOURCE": true,
}

// keyCompounds are single name tokens ending in KEY that name a secret key.
var keyCompounds = [...]string{"APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "SIGNINGKEY", "ENCRYPTIONKEY", "MASTERKEY", "LICENSEKEY", "AUTHKEY", "CLIENTKEY"}

// classifyName rates an environment variable name.
func classifyName(name string) nameStrength {
	up := strings.ToUpper(name)
	if up == "PWD" || up == "OLDPWD" {
		return nameNone // shell working directories
	}
	strength := nameNone
	last := ""
	for rest := up; rest != ""; {
		i := strings.IndexFunc(rest, isNameSep)
		tok := rest
		if i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if tok == "" {
			continue
		}
		last = tok
		switch {
		case tok == "PUBLIC" || tok == "PUB" || strings.HasSuffix(tok, "PUBLICKEY"):
			return nameNone
		case strings.Contains(tok, "PASSWORD") || strings.Contains(tok, "PASSWD") || strings.Contains(tok, "PASSPHRASE") || tok == "PASS" || tok == "PWD":
			strength = namePassword
		case strength == nameNone && (strings.Contains(tok, "SECRET") || strings.HasSuffix(tok, "TOKEN") || strings.HasSuffix(tok, "TOKENS") ||
			strings.Contains(tok, "CREDENTIAL") || tok == "KEY" || tok == "KEYS" || hasKeyCompound(tok)):
			strength = nameWeak
		}
	}
	if nonSecretSuffixes[last] {
		return nameNone
	}
	return strength
}

func isNameSep(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }

func hasKeyCompound(tok string) bool {
	for _, k := range keyCompounds {
		if strings.HasSuffix(tok, k) {
			return true
		}
	}
	return false
}

// placeholders are literal values that stand for "fill me in".
var placeholders = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "changeit": true, "replaceme": true, "replace-me": true,
	"replace_me": true, "placeholder": true, "redacted": true, "dummy": true, "example": true, "none": true,
	"null": true, "nil": true, "undefined": true, "todo": true, "tbd": true, "fixme": true, "secret-here": true,
	"your-secret": true, "your-password": true, "your-token": true, "unset": true, "empty": true, "default": true,
}

// isReference reports whether v refers to a value defined elsewhere:
// $(VAR), ${VAR}, $VAR, {{ template }}, %s.
func isReference(v string) bool {
	return strings.HasPrefix(v, "$") || strings.Contains(v, "$(") || strings.Contains(v, "${") ||
		strings.Contains(v, "{{") || strings.Contains(v, "%s")
}

// isPlaceholder reports whether v is an obvious stand-in for a real value.
func isPlaceholder(v string) bool {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		return true
	}
	if placeholders[strings.ToLower(v)] {
		return true
	}
	up := strings.ToUpper(v)
	for _, p := range [...]string{"INSERT_", "INSERT-", "REPLACE_", "REPLACE-", "YOUR_", "YOUR-", "CHANGE_ME", "CHANGEME", "<"} {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	// xxxx, ****, ....: one repeated character.
	same := true
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			same = false
			break
		}
	}
	return same
}

// isBoolean reports whether v is a boolean literal.
func isBoolean(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "enabled", "disabled":
		return true
	}
	return false
}

// isNumeric reports whether v is a number, possibly with a unit suffix of
// at most two letters (30s, 5m, 10Gi, 0.5).
func isNumeric(v string) bool {
	i := len(v)
	for i > 0 && i > len(v)-2 && (v[i-1] >= 'a' && v[i-1] <= 'z' || v[i-1] >= 'A' && v[i-1] <= 'Z') {
		i--
	}
	_, err := strconv.ParseFloat(v[:i], 64)
	return err == nil
}

// entropy returns the Shannon entropy of v in bits per byte.
func entropy(v string) float64 {
	var counts [256]int
	for i := 0; i < len(v); i++ {
		counts[v[i]]++
	}
	h := 0.0
	n := float64(len(v))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// DetectSecret reports whether an environment variable named name with the
// literal value holds a credential, and what kind. A value in a known key
// format (AWS, GitHub, Slack, private keys, JWTs, URLs with a password…) is
// a credential whatever its name. Otherwise a password-like name (PASSWORD,
// PASSWD, PASS, PWD) makes any value of 4+ characters a credential, and a
// secret-like name (SECRET, TOKEN, KEY, CREDENTIAL, API_KEY…) a value of 8+
// characters without spaces that looks random (entropy ≥ 2.5 bits/char, not
// a number). References ($(VAR), ${VAR}, {{…}}), placeholders (changeme,
// <token>, INSERT_…, xxxx), booleans, paths and URLs without credentials
// never count. The result never contains the value.
func DetectSecret(name, value string) (kind string, ok bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", false
	}
	for i := range secretFormats {
		f := &secretFormats[i]
		if containsAny(v, f.hints) && f.re.MatchString(v) {
			return f.kind, true
		}
	}
	if strings.Contains(v, "://") && strings.Contains(v, "@") {
		if m := credentialURL.FindStringSubmatchIndex(v); m != nil {
			pw := v[m[2]:m[3]]
			if !isReference(pw) && !isPlaceholder(pw) {
				return "URL with an embedded password", true
			}
		}
	}
	strength := classifyName(name)
	if strength == nameNone || isReference(v) || isPlaceholder(v) || isBoolean(v) || strings.Contains(v, "://") {
		return "", false
	}
	if v[0] == '/' || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.HasPrefix(v, "~/") {
		return "", false
	}
	switch strength {
	case namePassword:
		if len(v) >= 4 {
			return "password", true
		}
	case nameWeak:
		if len(v) >= 8 && !strings.ContainsAny(v, " \t\n") && !isNumeric(v) && entropy(v) >= 2.5 {
			return "secret, token or key", true
		}
	}
	return "", false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// hardcodedSecretInEnv fails literal env values that look like credentials.
// The message names the variable and the kind of secret, never the value.
func hardcodedSecretInEnv(c *control.Context, p *pod) {
	for _, ct := range p.containers {
		for i, item := range k8s.Slice(ct.Spec, "env") {
			env, ok := item.(map[string]any)
			if !ok {
				continue
			}
			value, ok := env["value"].(string)
			if !ok {
				continue
			}
			name := k8s.Str(env, "name")
			if kind, found := DetectSecret(name, value); found {
				c.Failf(k8s.Index(ct.Path+".env", i)+".value", ct.Name, "env var %s of container %q holds a literal credential (%s, value %s)", name, ct.Name, kind, Redacted)
			}
		}
	}
}

// secretInEnvVar fails Secret values exposed as environment variables.
func secretInEnvVar(c *control.Context, p *pod) {
	for _, ct := range p.containers {
		for i, item := range k8s.Slice(ct.Spec, "env") {
			env, ok := item.(map[string]any)
			if !ok {
				continue
			}
			ref := k8s.Map(k8s.Map(env, "valueFrom"), "secretKeyRef")
			if ref == nil {
				continue
			}
			c.Failf(k8s.Index(ct.Path+".env", i)+".valueFrom.secretKeyRef", ct.Name, "container %q reads key %q of Secret %q into env var %s", ct.Name, k8s.Str(ref, "key"), k8s.Str(ref, "name"), k8s.Str(env, "name"))
		}
		for i, item := range k8s.Slice(ct.Spec, "envFrom") {
			src, ok := item.(map[string]any)
			if !ok {
				continue
			}
			ref := k8s.Map(src, "secretRef")
			if ref == nil {
				continue
			}
			c.Failf(k8s.Index(ct.Path+".envFrom", i)+".secretRef", ct.Name, "container %q loads every key of Secret %q into environment variables", ct.Name, k8s.Str(ref, "name"))
		}
	}
}
