package webhook

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Validity and renewal of the self-signed TLS material.
const (
	// CAValidity is the lifetime of the self-signed CA.
	CAValidity = 10 * 365 * 24 * time.Hour
	// ServingValidity is the lifetime of the serving certificate.
	ServingValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before expiry a certificate is replaced.
	RenewBefore = 30 * 24 * time.Hour
	// clockSkew backdates NotBefore so that nodes whose clocks lag a
	// little accept a fresh certificate.
	clockSkew = 5 * time.Minute
)

// TLSMaterial is the webhook's PEM-encoded TLS material: the CA (its key
// stays in a Secret of its own that no pod mounts) and the serving pair.
type TLSMaterial struct {
	// CACert and CAKey are the self-signed CA.
	CACert, CAKey []byte
	// Cert and Key are the serving certificate and its key.
	Cert, Key []byte
	// CABundle is what the ValidatingWebhookConfiguration trusts: CACert,
	// followed by the previous CA while it is still valid after a CA
	// rotation, so that servers still presenting a certificate of the old
	// CA keep being trusted until they reload.
	CABundle []byte
}

// ServiceDNSNames are the names the API server uses to reach a Service.
func ServiceDNSNames(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// EnsureTLS returns the TLS material for dnsNames at time now, reusing what
// prev holds (nil: nothing yet) as long as it stays valid: the CA is kept
// unless it is unusable or expires within RenewBefore, and the serving
// certificate is kept unless it expires within RenewBefore, was not signed
// by the CA, or does not cover dnsNames. What changed is described in
// changes (empty when prev is reused as it is).
func EnsureTLS(prev *TLSMaterial, dnsNames []string, now time.Time) (m TLSMaterial, changes []string, err error) {
	var ca *x509.Certificate
	var caKey *ecdsa.PrivateKey
	if prev != nil && len(prev.CACert) > 0 {
		ca, caKey, err = parsePair(prev.CACert, prev.CAKey)
		switch {
		case err != nil:
			changes = append(changes, "new CA: the existing one is unusable ("+err.Error()+")")
			ca = nil
		case !ca.IsCA:
			changes = append(changes, "new CA: the existing certificate is not a CA")
			ca = nil
		case now.Add(RenewBefore).After(ca.NotAfter):
			changes = append(changes, "new CA: the existing one expires "+ca.NotAfter.UTC().Format(time.RFC3339))
			ca = nil
		}
	}
	newCA := ca == nil
	if newCA {
		if prev == nil || len(prev.CACert) == 0 {
			changes = append(changes, "new CA")
		}
		m.CACert, m.CAKey, ca, caKey, err = newCACert(now)
		if err != nil {
			return TLSMaterial{}, nil, err
		}
	} else {
		m.CACert, m.CAKey = prev.CACert, prev.CAKey
	}
	m.CABundle = bytes.Clone(m.CACert)
	if newCA && prev != nil && len(prev.CACert) > 0 {
		// Keep trusting the previous CA while servers may still present
		// its certificate.
		if old, perr := parseCert(prev.CACert); perr == nil && now.Before(old.NotAfter) {
			m.CABundle = append(m.CABundle, prev.CACert...)
		}
	}

	if !newCA {
		reason := servingStale(prev, ca, dnsNames, now)
		if reason == "" {
			m.Cert, m.Key = prev.Cert, prev.Key
			return m, changes, nil
		}
		changes = append(changes, "new serving certificate: "+reason)
	} else {
		changes = append(changes, "new serving certificate")
	}
	m.Cert, m.Key, err = issueServing(ca, caKey, dnsNames, now)
	if err != nil {
		return TLSMaterial{}, nil, err
	}
	return m, changes, nil
}

// servingStale says why prev's serving certificate must be replaced, or ""
// when it can stay.
func servingStale(prev *TLSMaterial, ca *x509.Certificate, dnsNames []string, now time.Time) string {
	cert, _, err := parsePair(prev.Cert, prev.Key)
	if err != nil {
		return "the existing one is unusable (" + err.Error() + ")"
	}
	if now.Add(RenewBefore).After(cert.NotAfter) {
		return "the existing one expires " + cert.NotAfter.UTC().Format(time.RFC3339)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return "the existing one was not signed by the CA"
	}
	for _, n := range dnsNames {
		if err := cert.VerifyHostname(n); err != nil {
			return "the existing one does not cover " + n
		}
	}
	return ""
}

// newCACert generates a self-signed ECDSA P-256 CA valid for CAValidity.
func newCACert(now time.Time) (certPEM, keyPEM []byte, cert *x509.Certificate, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "rampart-webhook-ca", Organization: []string{"rampart"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	certPEM, keyPEM, cert, err = sign(tmpl, key, nil, key)
	return certPEM, keyPEM, cert, key, err
}

// issueServing issues an ECDSA P-256 serving certificate for dnsNames,
// valid for ServingValidity, signed by ca.
func issueServing(ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsNames []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(dnsNames) == 0 {
		return nil, nil, errors.New("serving certificate: no DNS names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the serving key: %w", err)
	}
	notAfter := now.Add(ServingValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: dnsNames[0]},
		DNSNames:    dnsNames,
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	certPEM, keyPEM, _, err = sign(tmpl, key, ca, caKey)
	return certPEM, keyPEM, err
}

// sign creates tmpl for key, signed by parent (self-signed when nil) with
// parentKey, and returns it and the key in PEM.
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl.SerialNumber = serial
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding the public key: %w", err)
	}
	ski := sha256.Sum256(pub)
	tmpl.SubjectKeyId = ski[:20]
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding the key of %s: %w", tmpl.Subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), cert, nil
}

// parseCert parses the first certificate of a PEM bundle.
func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// parsePair parses a PEM certificate and its ECDSA key and checks that
// they match.
func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, errors.New("no PEM key")
	}
	var key *ecdsa.PrivateKey
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = errors.New("the key is not ECDSA")
			}
		}
	default:
		err = fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if err != nil {
		return nil, nil, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("the key does not match the certificate")
	}
	return cert, key, nil
}
