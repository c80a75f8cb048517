package moengage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Paths of the file-segment family, relative to the base URL.
const (
	PathCreate    = "/v2/custom-segments/file-segment"
	PathAddUsers  = "/v2/custom-segments/file-segment/add-users"
	PathRemove    = "/v2/custom-segments/file-segment/remove-users"
	PathReplace   = "/v2/custom-segments/file-segment/replace"
	PathArchive   = "/v2/custom-segments/archive"
	PathUnarchive = "/v2/custom-segments/unarchive"
	PathSegments  = "/v3/custom-segments"
)

// ErrInvalidRequest is wrapped by errors raised before anything is sent
// (a request the client refuses to build). It is a permanent failure.
var ErrInvalidRequest = errors.New("moengage: invalid request")

// SegmentRequest is the body of create, add-users, remove-users and replace.
// The JSON names are upstream's.
type SegmentRequest struct {
	// Name of the segment; unique for create.
	Name string `json:"name"`
	// CSID identifies the segment for add/remove/replace; it wins over Name.
	// Never sent on create.
	CSID string `json:"cs_id,omitempty"`
	// AttributeName is the user attribute the file's values identify.
	AttributeName string `json:"attribute_name"`
	// AttributeType is "string" or "double".
	AttributeType string `json:"attribute_type"`
	// FileURL is where upstream downloads the single-column CSV.
	FileURL string `json:"file_url"`
	// CallbackURL receives the processing outcome (CallbackPayload).
	CallbackURL string `json:"callback_url,omitempty"`
	// Emails receive upstream's notification mails.
	Emails []string `json:"emails,omitempty"`
	// ExpiryTime is the segment's lifetime in days; create only (required
	// there), never sent on the other ops.
	ExpiryTime int `json:"expiry_time,omitempty"`
}

// Accepted is the 202 answer of create, add, remove and replace.
type Accepted struct {
	Message string `json:"message"`
	Success bool   `json:"success"`
	CSName  string `json:"cs_name"`
	// CSID is empty on older upstream versions.
	CSID string `json:"cs_id"`
	// RateLimit holds the x-ratelimit-* headers of the answer, if any.
	RateLimit RateLimit `json:"-"`
}

// Segment is one custom segment as the v3 look-ups describe it. Upstream
// gives no user count here.
type Segment struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	CreatedTime string `json:"created_time"`
}

// Create asks upstream to create a file segment (POST PathCreate). Upstream
// creates the segment with zero users at once and reports the processing
// outcome to req.CallbackURL.
func (c *Client) Create(ctx context.Context, req SegmentRequest) (Accepted, error) {
	req.CSID = ""
	return c.submit(ctx, http.MethodPost, PathCreate, req)
}

// AddUsers adds the file's users to an existing segment (PUT PathAddUsers).
func (c *Client) AddUsers(ctx context.Context, req SegmentRequest) (Accepted, error) {
	req.ExpiryTime = 0
	return c.submit(ctx, http.MethodPut, PathAddUsers, req)
}

// RemoveUsers removes the file's users from a segment (PUT PathRemove).
func (c *Client) RemoveUsers(ctx context.Context, req SegmentRequest) (Accepted, error) {
	req.ExpiryTime = 0
	return c.submit(ctx, http.MethodPut, PathRemove, req)
}

// Replace replaces all users of a segment with the file's (PUT PathReplace).
func (c *Client) Replace(ctx context.Context, req SegmentRequest) (Accepted, error) {
	req.ExpiryTime = 0
	return c.submit(ctx, http.MethodPut, PathReplace, req)
}

func (c *Client) submit(ctx context.Context, method, path string, req SegmentRequest) (Accepted, error) {
	if req.Name == "" && req.CSID == "" {
		return Accepted{}, fmt.Errorf("%w: name or cs_id is required", ErrInvalidRequest)
	}
	resp, err := c.do(ctx, method, path, nil, req)
	if err != nil {
		return Accepted{}, err
	}
	var out Accepted
	if json.Unmarshal(resp.body, &out) != nil || (out.CSName == "" && out.CSID == "" && !out.Success) {
		// A 2xx means upstream took the request: never turn it into an
		// error (a retry would spend quota twice). Report what we know.
		out = Accepted{Success: true, CSName: req.Name, CSID: req.CSID}
	}
	out.RateLimit = resp.rateLimit
	return out, nil
}

// archiveBody is the body of archive and unarchive.
type archiveBody struct {
	Name string `json:"name"`
	CSID string `json:"cs_id,omitempty"`
}

// Archive archives a segment (PATCH PathArchive); csID may be empty.
func (c *Client) Archive(ctx context.Context, name, csID string) error {
	return c.patch(ctx, PathArchive, name, csID)
}

// Unarchive makes an archived segment active again (PATCH PathUnarchive).
func (c *Client) Unarchive(ctx context.Context, name, csID string) error {
	return c.patch(ctx, PathUnarchive, name, csID)
}

func (c *Client) patch(ctx context.Context, path, name, csID string) error {
	if name == "" && csID == "" {
		return fmt.Errorf("%w: name or cs_id is required", ErrInvalidRequest)
	}
	_, err := c.do(ctx, http.MethodPatch, path, nil, archiveBody{Name: name, CSID: csID})
	return err
}

// FindByName returns the segments whose name is exactly name (GET
// PathSegments?name=). An empty slice means no such segment.
func (c *Client) FindByName(ctx context.Context, name string) ([]Segment, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: name is required", ErrInvalidRequest)
	}
	resp, err := c.do(ctx, http.MethodGet, PathSegments, url.Values{"name": {name}}, nil)
	if err != nil {
		return nil, err
	}
	segs, err := decodeSegments(resp.body)
	if err != nil {
		return nil, fmt.Errorf("moengage: find segment: %w", err)
	}
	// The look-up is documented as exact; filter anyway so that a server
	// matching by prefix cannot make us adopt the wrong segment.
	out := segs[:0]
	for _, s := range segs {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out, nil
}

// Get returns the segment with the given id (GET PathSegments/{id}). A
// missing segment is an *APIError with status 404.
func (c *Client) Get(ctx context.Context, id string) (Segment, error) {
	if strings.TrimSpace(id) == "" {
		return Segment{}, fmt.Errorf("%w: id is required", ErrInvalidRequest)
	}
	resp, err := c.do(ctx, http.MethodGet, PathSegments+"/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return Segment{}, err
	}
	segs, err := decodeSegments(resp.body)
	if err != nil {
		return Segment{}, fmt.Errorf("moengage: get segment: %w", err)
	}
	if len(segs) == 0 {
		return Segment{}, &APIError{Status: http.StatusNotFound, Title: "Entity Not Found",
			Description: "Segment not found with the given id: " + id, Op: "GET " + PathSegments}
	}
	return segs[0], nil
}

// decodeSegments reads {"data": ...} where data is a list of segments (the
// documented shape of the name look-up) or a single segment (the id look-up,
// whose shape is not documented).
func decodeSegments(body []byte) ([]Segment, error) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	data := env.Data
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	if data[0] == '[' {
		var segs []Segment
		if err := json.Unmarshal(data, &segs); err != nil {
			return nil, fmt.Errorf("decode data: %w", err)
		}
		return segs, nil
	}
	var seg Segment
	if err := json.Unmarshal(data, &seg); err != nil {
		return nil, fmt.Errorf("decode data: %w", err)
	}
	return []Segment{seg}, nil
}
