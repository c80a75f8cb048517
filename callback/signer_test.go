package callback_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/callback"
	"github.com/stretchr/testify/require"
)

func TestSignerURL(t *testing.T) {
	t.Parallel()
	s, err := callback.NewSigner("0123456789abcdef0123", "https://segq.example.com/")
	require.NoError(t, err)
	u := s.URL("01JOB", 2)
	require.True(t, strings.HasPrefix(u, "https://segq.example.com/v1/callbacks/01JOB/2?sig="), u)
	tok := s.Token("01JOB", 2)
	require.GreaterOrEqual(t, len(tok), 22, "at least 128 bits in base64url")
	require.True(t, s.Valid("01JOB", 2, tok))
	require.False(t, s.Valid("01JOB", 3, tok), "other attempt")
	require.False(t, s.Valid("01JOC", 2, tok), "other job")
	require.False(t, s.Valid("01JOB", 2, ""), "empty")

	other, err := callback.NewSigner("another-secret-of-16+", "https://segq.example.com")
	require.NoError(t, err)
	require.False(t, other.Valid("01JOB", 2, tok), "other key")
}

func TestNewSignerRejectsWeakConfig(t *testing.T) {
	t.Parallel()
	_, err := callback.NewSigner("short", "https://x")
	require.Error(t, err)
	_, err = callback.NewSigner("0123456789abcdef", "ftp://x")
	require.Error(t, err)
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	key := callback.WebhookKey("0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"01JOB","state":"succeeded"}`)
	h := callback.SignWebhook(key, "msg_1", now, body)
	require.True(t, strings.HasPrefix(h.Get(callback.HeaderSignature), "v1,"))
	require.NoError(t, callback.VerifyWebhook(key, h, body, now.Add(time.Minute), 5*time.Minute))

	require.ErrorIs(t, callback.VerifyWebhook(key, h, []byte(`{}`), now, 5*time.Minute), callback.ErrBadSignature, "body changed")
	require.ErrorIs(t, callback.VerifyWebhook(key, h, body, now.Add(time.Hour), 5*time.Minute), callback.ErrBadSignature, "replayed late")
	require.ErrorIs(t, callback.VerifyWebhook(callback.WebhookKey("another-secret-16"), h, body, now, 5*time.Minute), callback.ErrBadSignature, "other key")
	forged := http.Header{}
	for k, v := range h {
		forged[k] = v
	}
	forged.Set(callback.HeaderID, "msg_2")
	require.ErrorIs(t, callback.VerifyWebhook(key, forged, body, now, 5*time.Minute), callback.ErrBadSignature, "other id")
}
