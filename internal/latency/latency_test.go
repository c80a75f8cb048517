package latency

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var r Recorder
	require.Zero(t, r.Quantile(0.5), "empty")
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			batch := make([]time.Duration, 0, 25)
			for i := range 25 {
				batch = append(batch, time.Duration(100-(c*25+i))*time.Millisecond) // 100 … 1 ms
			}
			r.Add(batch...)
		})
	}
	wg.Wait()
	require.Equal(t, 100, r.Len())
	require.Equal(t, time.Millisecond, r.Quantile(0))
	require.Equal(t, 50*time.Millisecond, r.Quantile(0.5))
	require.Equal(t, 99*time.Millisecond, r.Quantile(0.99))
	require.Equal(t, 100*time.Millisecond, r.Quantile(1))
	r.Add(0)
	require.Equal(t, time.Duration(0), r.Quantile(0), "sorted again after Add")
}
