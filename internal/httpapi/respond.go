package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/segq/segq/queue"
)

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// writeErr maps an error from the queue and limiter to a status and code.
func writeErr(w http.ResponseWriter, err error) {
	var fe *queue.FieldError
	var dup *queue.DuplicateError
	var se *queue.StateError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_field", fe.Error())
	case errors.As(err, &dup):
		writeError(w, http.StatusConflict, "duplicate", dup.Error())
	case errors.As(err, &se):
		writeError(w, http.StatusConflict, "conflict", fmt.Sprintf("job is %s", se.From))
	case errors.Is(err, queue.ErrIdempotencyMismatch):
		writeError(w, http.StatusConflict, "idempotency_mismatch", err.Error())
	case errors.Is(err, queue.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "job not found")
	case errors.Is(err, queue.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "job store unavailable, try again")
	default:
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// maxBody caps request bodies of the job API.
const maxBody = 1 << 20

// decode reads a JSON body into v, rejecting unknown fields, trailing
// data and oversized bodies. It writes the error answer and returns false
// on failure; messages name the offending field.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", maxBody))
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("%s: must be %s", typeErr.Field, typeErr.Type))
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, "malformed", "body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeError(w, http.StatusBadRequest, "invalid_field", field+": unknown field")
	default:
		writeError(w, http.StatusBadRequest, "malformed", err.Error())
	}
	return false
}
