package gatetest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"github.com/digitorus/timestamp"
)

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

func (s *Sigstore) newTSA() error {
	ikey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}
	itmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "sigstore-tsa-intermediate", Organization: []string{"sigstore.dev"}},
		NotBefore:             s.Start,
		NotAfter:              s.Start.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, itmpl, s.RootCert, ikey.Public(), s.rootKey)
	if err != nil {
		return err
	}
	if s.TSAIntermediateCert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	if s.tsaKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	ltmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "sigstore-tsa", Organization: []string{"sigstore.dev"}},
		NotBefore:    s.Start,
		NotAfter:     s.Start.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// RFC 3161: the TSA cert must have a *critical* EKU = timeStamping only
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	der, err = x509.CreateCertificate(rand.Reader, ltmpl, s.TSAIntermediateCert, s.tsaKey.Public(), ikey)
	if err != nil {
		return err
	}
	s.TSALeafCert, err = x509.ParseCertificate(der)
	return err
}

// Timestamp returns a DER RFC 3161 TimeStampResp over data (cosign
// timestamps the raw signature bytes) claiming time t.
func (s *Sigstore) Timestamp(data []byte, t time.Time) ([]byte, error) {
	tsq, err := timestamp.CreateRequest(bytes.NewReader(data), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
	if err != nil {
		return nil, err
	}
	req, err := timestamp.ParseRequest(tsq)
	if err != nil {
		return nil, err
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              t,
		Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2},
		Nonce:             req.Nonce,
		AddTSACertificate: true,
		ExtraExtensions:   req.Extensions,
	}
	return ts.CreateResponseWithOpts(s.TSALeafCert, s.tsaKey, crypto.SHA256)
}
