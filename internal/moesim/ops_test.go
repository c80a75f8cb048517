package moesim_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
)

func TestAuthAndDBName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const unauthorized = `{"title":"Authentication required","description":"Invalid Workspace ID or API key used in the Authorization header"}`
	tests := []struct {
		name       string
		user, key  string
		db         string
		wantStatus int
		wantBody   string
	}{
		{name: "no auth", user: "-", wantStatus: 401, wantBody: unauthorized},
		{name: "wrong key", user: wsID, key: "nope", wantStatus: 401, wantBody: unauthorized},
		{name: "unknown workspace", user: "other", key: wsKey, wantStatus: 401, wantBody: unauthorized},
		{name: "other database", user: wsID, key: wsKey, db: "other", wantStatus: 400,
			wantBody: `{"title":"Invalid Request","description":"Invalid MOE-DBNAME: other"}`},
		{name: "matching database", user: wsID, key: wsKey, db: wsDB, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, b.api.URL+moengage.PathSegments+"?name=x", nil)
			require.NoError(t, err)
			if tc.user != "-" {
				req.SetBasicAuth(tc.user, tc.key)
			}
			if tc.db != "" {
				req.Header.Set("MOE-DBNAME", tc.db)
			}
			resp, err := b.client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.wantStatus, resp.StatusCode)
			if tc.wantBody != "" {
				var got, want any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
				require.NoError(t, json.Unmarshal([]byte(tc.wantBody), &want))
				require.Equal(t, want, got)
			}
		})
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	valid := func() map[string]any { return b.createBody("seg", 2) }
	with2 := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	without := func(field string) map[string]any { m := valid(); delete(m, field); return m }
	with := func(field string, v any) map[string]any { m := valid(); m[field] = v; return m }
	tests := []struct {
		name string
		path string
		body any
		desc string
	}{
		{"missing name", moengage.PathCreate, without("name"), "Mandatory field missing in the request: name"},
		{"missing attribute_name", moengage.PathCreate, without("attribute_name"), "Mandatory field missing in the request: attribute_name"},
		{"missing attribute_type", moengage.PathCreate, without("attribute_type"), "Mandatory field missing in the request: attribute_type"},
		{"missing file_url", moengage.PathCreate, without("file_url"), "Mandatory field missing in the request: file_url"},
		{"missing expiry_time", moengage.PathCreate, without("expiry_time"), "Mandatory field missing in the request: expiry_time"},
		{"create needs a name even with cs_id", moengage.PathCreate, with2(with("name", ""), "cs_id", "abc"), "Mandatory field missing in the request: name"},
		{"bad attribute_type", moengage.PathCreate, with("attribute_type", "int"), "Invalid attribute_type: int. Allowed values: string, double"},
		{"bad file_url", moengage.PathCreate, with("file_url", "ftp://x/y"), "Invalid file_url: ftp://x/y"},
		{"bad callback_url", moengage.PathCreate, with("callback_url", "nope"), "Invalid callback_url: nope"},
		{"zero expiry", moengage.PathCreate, with("expiry_time", 0), "Invalid expiry_time: 0. It must be a positive number of days"},
		{"not json", moengage.PathCreate, "{", "Invalid JSON in the request body"},
		{"empty body", moengage.PathCreate, "", "Request body is empty"},
		{"add without name or cs_id", moengage.PathAddUsers, map[string]any{"attribute_name": "id"}, "Mandatory field missing in the request: name"},
		{"remove missing file_url", moengage.PathRemove, map[string]any{"cs_id": "x", "attribute_name": "id", "attribute_type": "string"}, "Mandatory field missing in the request: file_url"},
		{"archive without name", moengage.PathArchive, map[string]any{}, "Mandatory field missing in the request: name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodPut
			switch tc.path {
			case moengage.PathCreate:
				method = http.MethodPost
			case moengage.PathArchive:
				method = http.MethodPatch
			}
			r := b.call(t, method, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
			require.Equal(t, map[string]any{"title": "Invalid Request", "description": tc.desc}, r.json(t))
		})
	}
	require.Empty(t, b.sim.Accepted())
	require.Empty(t, b.sim.Segments(wsID))
}

func TestCreateAndConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour))
	r := b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("seg", 2))
	require.Equal(t, http.StatusAccepted, r.status)
	body := r.json(t)
	require.Equal(t, "File-segment creation request accepted", body["message"])
	require.Equal(t, true, body["success"])
	require.Equal(t, "seg", body["cs_name"])
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{24}$`), body["cs_id"])

	// The segment exists at once, with zero users, before processing.
	segs := b.sim.Segments(wsID)
	require.Len(t, segs, 1)
	require.Equal(t, int64(0), segs[0].Users)
	require.Equal(t, body["cs_id"], segs[0].ID)

	r = b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("seg", 2))
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, map[string]any{"title": "Resource not created", "description": "Name already exists : seg"}, r.json(t))
}

func TestUpdateOps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, "seg", 4)
	b.waitProcessed(t, 1)
	tests := []struct {
		name      string
		path      string
		body      map[string]any
		status    int
		wantBody  map[string]any
		wantUsers int64
	}{
		{name: "add by name", path: moengage.PathAddUsers, body: b.opBody("seg", 3, "a"), status: 202, wantUsers: 7},
		{name: "remove by cs_id", path: moengage.PathRemove, body: with(b.opBody("", 2, "r"), "cs_id", id), status: 202, wantUsers: 5},
		{name: "cs_id wins over name", path: moengage.PathAddUsers, body: with(b.opBody("unknown", 1, "w"), "cs_id", id), status: 202, wantUsers: 6},
		{name: "replace", path: moengage.PathReplace, body: b.opBody("seg", 2, "p"), status: 202, wantUsers: 2},
		{name: "unknown name", path: moengage.PathAddUsers, body: b.opBody("nope", 1, "n"), status: 404, wantUsers: 2,
			wantBody: map[string]any{"title": "Entity Not Found", "description": "Segment not found with the given name: nope"}},
		{name: "unknown cs_id wins over known name", path: moengage.PathRemove, body: with(b.opBody("seg", 1, "n"), "cs_id", "ffff"), status: 404, wantUsers: 2,
			wantBody: map[string]any{"title": "Entity Not Found", "description": "Segment not found with the given cs_id: ffff"}},
	}
	processed := int64(1)
	for _, tc := range tests { // sequential: each step builds on the last
		r := b.call(t, http.MethodPut, tc.path, tc.body)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		if tc.status == http.StatusAccepted {
			got := r.json(t)
			require.Equal(t, "seg", got["cs_name"], tc.name)
			require.Equal(t, id, got["cs_id"], tc.name)
			processed++
			b.waitProcessed(t, processed)
		} else {
			require.Equal(t, tc.wantBody, r.json(t), tc.name)
		}
		require.Equal(t, tc.wantUsers, b.sim.Segments(wsID)[0].Users, tc.name)
	}
	ops := []string{}
	for _, rec := range b.sim.Accepted() {
		ops = append(ops, rec.Op)
		require.Equal(t, id, rec.CSID)
	}
	require.Equal(t, []string{"create", "add", "remove", "add", "replace"}, ops)
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func TestArchiveUnarchive(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour))
	id := b.create(t, "seg", 1)

	r := b.call(t, http.MethodPatch, moengage.PathArchive, map[string]any{"name": "seg"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.True(t, b.sim.Segments(wsID)[0].Archived)

	r = b.call(t, http.MethodPatch, moengage.PathUnarchive, map[string]any{"name": "x", "cs_id": id})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.False(t, b.sim.Segments(wsID)[0].Archived)

	r = b.call(t, http.MethodPatch, moengage.PathArchive, map[string]any{"name": "nope"})
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, map[string]any{"title": "Entity Not Found", "description": "Segment not found with the given name: nope"}, r.json(t))

	// Archived segments keep their name.
	r = b.call(t, http.MethodPatch, moengage.PathArchive, map[string]any{"name": "seg"})
	require.Equal(t, http.StatusOK, r.status)
	r = b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("seg", 1))
	require.Equal(t, http.StatusConflict, r.status)
}

func TestLookups(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour))
	id := b.create(t, "seg", 1)
	b.create(t, "seg-longer", 1)

	r := b.call(t, http.MethodGet, moengage.PathSegments+"?name=seg", nil)
	require.Equal(t, http.StatusOK, r.status)
	var found struct {
		Data []map[string]string `json:"data"`
		RID  string              `json:"response_id"`
	}
	require.NoError(t, json.Unmarshal(r.body, &found))
	require.Len(t, found.Data, 1)
	require.Equal(t, "seg", found.Data[0]["name"])
	require.Equal(t, id, found.Data[0]["id"])
	require.NotEmpty(t, found.Data[0]["created_time"])
	require.NotEmpty(t, found.RID)

	r = b.call(t, http.MethodGet, moengage.PathSegments+"?name=none", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, []any{}, r.json(t)["data"])

	r = b.call(t, http.MethodGet, moengage.PathSegments+"/"+id, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, id, r.json(t)["data"].(map[string]any)["id"])

	r = b.call(t, http.MethodGet, moengage.PathSegments+"/ffff", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "Segment not found with the given id: ffff", r.json(t)["description"])
	require.Equal(t, int64(3), b.sim.Stats().Lookups)
}

func TestMethodAndPathErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, http.StatusMethodNotAllowed, b.call(t, http.MethodGet, moengage.PathCreate, nil).status)
	require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, "/v9/nothing", nil).status)
	st := b.sim.Stats()
	require.Equal(t, int64(2), st.Requests)
	require.Equal(t, int64(2), st.Rejected4xx)
}
