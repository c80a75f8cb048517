// Package callback receives MoEngage's processing callbacks, signs the
// callback URLs segq hands to MoEngage, and relays finished jobs to the
// producers' own callback URLs as signed webhooks.
package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Signer makes and checks the callback URLs given to MoEngage:
// {public_url}/v1/callbacks/{job_id}/{attempt}?sig={token}, where token is
// base64url(HMAC-SHA256(key, job_id "/" attempt)) — 256 bits.
type Signer struct {
	key  []byte
	base string
}

// NewSigner returns a Signer for the secret key and the public base URL.
func NewSigner(secret, publicURL string) (*Signer, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("callback secret: need at least 16 bytes, have %d", len(secret))
	}
	if u, err := url.Parse(publicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("public_url %q: must be an absolute http(s) URL", publicURL)
	}
	return &Signer{key: []byte(secret), base: strings.TrimRight(publicURL, "/")}, nil
}

// Token returns the signature of one attempt of a job.
func (s *Signer) Token(jobID string, attempt int) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(jobID + "/" + strconv.Itoa(attempt)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URL returns the callback URL MoEngage gets for one attempt of a job.
func (s *Signer) URL(jobID string, attempt int) string {
	return fmt.Sprintf("%s/v1/callbacks/%s/%d?sig=%s", s.base, url.PathEscape(jobID), attempt, s.Token(jobID, attempt))
}

// Valid reports, in constant time, whether token signs the attempt.
func (s *Signer) Valid(jobID string, attempt int, token string) bool {
	return hmac.Equal([]byte(token), []byte(s.Token(jobID, attempt)))
}
