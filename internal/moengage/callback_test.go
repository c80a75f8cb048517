package moengage_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
)

// The seed's payloads decode, and failures carry no counters.
func TestCallbackPayloadJSON(t *testing.T) {
	t.Parallel()
	var ok moengage.CallbackPayload
	require.NoError(t, json.Unmarshal([]byte(`{"db_name":"test_db","segment_name":"test_segment_name",
		"request_id":"d5a263c4ef1198ae3d8496c0460f570f","status":201,"values_found":10,"values_processed":9,"user_count":8}`), &ok))
	require.True(t, ok.Succeeded())
	require.False(t, ok.Retryable())
	require.Equal(t, int64(10), *ok.ValuesFound)
	require.Equal(t, int64(9), *ok.ValuesProcessed)
	require.Equal(t, int64(8), *ok.UserCount)

	failed := moengage.CallbackPayload{DBName: "d", SegmentName: "s", RequestID: "r", Status: 500,
		ErrorMessage: "Internal Server Error. Contact MoEngage Team."}
	raw, err := json.Marshal(failed)
	require.NoError(t, err)
	require.JSONEq(t, `{"db_name":"d","segment_name":"s","request_id":"r","status":500,
		"error_message":"Internal Server Error. Contact MoEngage Team."}`, string(raw))
	require.True(t, failed.Retryable())
	require.False(t, failed.Succeeded())
}
