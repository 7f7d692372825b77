package sign

import (
	"testing"
)

// FuzzParsePayloads feeds registry-supplied payloads to the parsers that
// read them before any signature check; they must never panic.
func FuzzParsePayloads(f *testing.F) {
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r","digest":{"sha256":"00"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}`))
	f.Add([]byte(`{"critical":null}`))
	f.Add([]byte(`{"subject":[{"digest":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseSimpleSigning(b); err == nil && d == "" {
			t.Fatal("no digest and no error")
		}
		_, _, _ = parseStatement(b)
		_, _ = decodeSignature(string(b))
	})
}
