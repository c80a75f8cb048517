package moengage

// Callback statuses upstream puts in CallbackPayload.Status.
const (
	// CallbackSucceeded: the file was processed.
	CallbackSucceeded = 201
	// CallbackClientError: the request or the file was at fault (download
	// failed, file too large); a permanent failure.
	CallbackClientError = 400
	// CallbackServerError: upstream failed; worth a retry.
	CallbackServerError = 500
)

// CallbackPayload is the body upstream POSTs to a request's callback_url when
// processing ends (the seed's success and failure payloads). The simulator
// sends it and the callback receiver reads it.
type CallbackPayload struct {
	DBName      string `json:"db_name"`
	SegmentName string `json:"segment_name"`
	RequestID   string `json:"request_id"`
	// Status is CallbackSucceeded, CallbackClientError or CallbackServerError.
	Status int `json:"status"`
	// ValuesFound is the number of rows in the file (success only).
	ValuesFound *int64 `json:"values_found,omitempty"`
	// ValuesProcessed is the number of rows with usable data (success only).
	ValuesProcessed *int64 `json:"values_processed,omitempty"`
	// UserCount is the number of users matched and added (success only).
	UserCount *int64 `json:"user_count,omitempty"`
	// ErrorMessage says why processing failed (failure only).
	ErrorMessage string `json:"error_message,omitempty"`
}

// Succeeded reports whether the payload announces a processed file.
func (p CallbackPayload) Succeeded() bool { return p.Status == CallbackSucceeded }

// Retryable reports whether the payload announces a server-side failure
// that a resubmission may cure (status 5xx).
func (p CallbackPayload) Retryable() bool { return p.Status >= 500 }
