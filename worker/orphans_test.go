package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	task := asynq.NewTask("t", nil)
	require.Zero(t, retryDelay(5, asynq.ErrLeaseExpired, task), "a dead worker's task runs again at once")
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		[]time.Duration{retryDelay(0, errors.New("x"), task), retryDelay(1, errors.New("x"), task), retryDelay(2, errors.New("x"), task)})
	require.GreaterOrEqual(t, retryDelay(3, errors.New("x"), task), 15*time.Second, "then asynq's schedule")
}
