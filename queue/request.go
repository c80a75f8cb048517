package queue

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Request is what a producer asks for: the job fields of DESIGN §4 that a
// producer sets. Op defaults to create and Priority to default.
type Request struct {
	Workspace     string   `json:"workspace"`
	Op            Op       `json:"op,omitempty"`
	Name          string   `json:"name,omitempty"`
	CSID          string   `json:"cs_id,omitempty"`
	AttributeName string   `json:"attribute_name,omitempty"`
	AttributeType string   `json:"attribute_type,omitempty"`
	FileURL       string   `json:"file_url,omitempty"`
	ExpiryTime    int      `json:"expiry_time,omitempty"`
	CallbackURL   string   `json:"callback_url,omitempty"`
	Emails        []string `json:"emails,omitempty"`
	Priority      string   `json:"priority,omitempty"`
	// RelayFormat is the body the outcome is relayed in (RelayJob when
	// empty); the drop-in MoEngage paths set RelayMoEngage.
	RelayFormat string `json:"relay_format,omitempty"`
}

// Relay formats: what a job's callback_url receives when the job ends.
const (
	// RelayJob is the job JSON (DESIGN §6).
	RelayJob = "job"
	// RelayMoEngage is MoEngage's own callback payload, so that a producer
	// written against MoEngage keeps its callback handler unchanged.
	RelayMoEngage = "moengage"
)

// FieldError says which request field is wrong and why.
type FieldError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits on request fields.
const (
	maxNameLen   = 255
	maxEmails    = 50
	maxExpiryDay = 36500
	maxURLLen    = 2048
)

// normalize fills defaults and validates r, returning the first problem as
// a *FieldError.
func (r *Request) normalize(known func(ws string) bool) error {
	r.Workspace = strings.TrimSpace(r.Workspace)
	if r.Op == "" {
		r.Op = OpCreate
	}
	if r.Priority == "" {
		r.Priority = "default"
	}
	if r.Workspace == "" {
		return fieldErr("workspace", "is required")
	}
	if known != nil && !known(r.Workspace) {
		return fieldErr("workspace", "unknown workspace %q", r.Workspace)
	}
	if !r.Op.Valid() {
		return fieldErr("op", "must be one of create, add, remove, replace, archive, unarchive")
	}
	switch r.Priority {
	case "high", "default", "low":
	default:
		return fieldErr("priority", "must be high, default or low")
	}
	switch r.RelayFormat {
	case "", RelayJob, RelayMoEngage:
	default:
		return fieldErr("relay_format", "must be job or moengage")
	}
	if err := r.validateTarget(); err != nil {
		return err
	}
	if r.Op.HasFile() {
		if err := r.validateFile(); err != nil {
			return err
		}
	}
	if r.CallbackURL != "" {
		if err := checkHTTPURL(r.CallbackURL); err != nil {
			return fieldErr("callback_url", "%v", err)
		}
	}
	return r.validateEmails()
}

func (r *Request) validateTarget() error {
	if len(r.Name) > maxNameLen || !utf8.ValidString(r.Name) {
		return fieldErr("name", "must be valid UTF-8 of at most %d bytes", maxNameLen)
	}
	switch {
	case r.Op == OpCreate && strings.TrimSpace(r.Name) == "":
		return fieldErr("name", "is required for create")
	case r.Op == OpCreate && r.CSID != "":
		return fieldErr("cs_id", "must not be set for create")
	case r.Op != OpCreate && r.Name == "" && r.CSID == "":
		return fieldErr("name", "name or cs_id is required for %s", r.Op)
	}
	switch {
	case r.Op == OpCreate && r.ExpiryTime <= 0:
		return fieldErr("expiry_time", "must be a positive number of days for create")
	case r.ExpiryTime < 0 || r.ExpiryTime > maxExpiryDay:
		return fieldErr("expiry_time", "must be between 1 and %d days", maxExpiryDay)
	case r.ExpiryTime != 0 && r.Op != OpCreate && r.Op != OpUnarchive:
		return fieldErr("expiry_time", "is only accepted for create and unarchive")
	}
	return nil
}

func (r *Request) validateFile() error {
	if strings.TrimSpace(r.AttributeName) == "" {
		return fieldErr("attribute_name", "is required for %s", r.Op)
	}
	if r.AttributeType == "" {
		return fieldErr("attribute_type", "is required for %s", r.Op)
	}
	if r.AttributeType != "string" && r.AttributeType != "double" {
		return fieldErr("attribute_type", "must be string or double")
	}
	if r.FileURL == "" {
		return fieldErr("file_url", "is required for %s", r.Op)
	}
	if err := checkHTTPURL(r.FileURL); err != nil {
		return fieldErr("file_url", "%v", err)
	}
	return nil
}

func (r *Request) validateEmails() error {
	if len(r.Emails) > maxEmails {
		return fieldErr("emails", "at most %d addresses", maxEmails)
	}
	for i, e := range r.Emails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			return fieldErr(fmt.Sprintf("emails[%d]", i), "%q is not an e-mail address", e)
		}
	}
	return nil
}

// checkHTTPURL accepts absolute http(s) URLs without credentials.
func checkHTTPURL(raw string) error {
	if len(raw) > maxURLLen {
		return fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("has no host")
	case u.User != nil:
		return fmt.Errorf("must not carry credentials")
	}
	return nil
}
