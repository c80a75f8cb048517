package httpapi

import (
	"net/http"

	"github.com/segq/segq/queue"
)

// dropInBody is the upstream body of the file-segment ops.
type dropInBody struct {
	Name          string   `json:"name"`
	CSID          string   `json:"cs_id"`
	AttributeName string   `json:"attribute_name"`
	AttributeType string   `json:"attribute_type"`
	FileURL       string   `json:"file_url"`
	CallbackURL   string   `json:"callback_url"`
	Emails        []string `json:"emails"`
	ExpiryTime    int      `json:"expiry_time"`
}

// dropInAccepted is upstream's 202 answer plus segq's job id.
type dropInAccepted struct {
	Message string `json:"message"`
	Success bool   `json:"success"`
	CSName  string `json:"cs_name"`
	CSID    string `json:"cs_id"`
	JobID   string `json:"job_id"`
}

var dropInMessages = map[queue.Op]string{
	queue.OpCreate:  "File-segment creation request accepted",
	queue.OpAdd:     "File-segment add-users request accepted",
	queue.OpRemove:  "File-segment remove-users request accepted",
	queue.OpReplace: "File-segment replace request accepted",
}

// dropIn serves one of MoEngage's own file-segment paths: same body, same
// Basic auth (workspace id and the workspace's MoEngage API key), so a
// producer switches to segq by changing only the base URL.
func (s *Server) dropIn(op queue.Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		ws := s.ws[user]
		if !ok || ws == nil || ws.APIKey.Reveal() == "" || !ws.APIKey.Equal(pass) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{
				"title": "Authentication required", "description": "Invalid Workspace ID or API key used in the Authorization header",
			})
			return
		}
		var b dropInBody
		if !decode(w, r, &b) {
			return
		}
		req := queue.Request{
			Workspace: ws.ID, Op: op, Name: b.Name, CSID: b.CSID, AttributeName: b.AttributeName,
			AttributeType: b.AttributeType, FileURL: b.FileURL, CallbackURL: b.CallbackURL, Emails: b.Emails,
			RelayFormat: queue.RelayMoEngage, // its callback handler expects MoEngage's payload
		}
		if op == queue.OpCreate {
			req.ExpiryTime = b.ExpiryTime
		}
		s.enqueue(w, r, req, func(j *queue.Job) any {
			return dropInAccepted{Message: dropInMessages[op], Success: true, CSName: j.Name, CSID: j.CSID, JobID: j.ID}
		})
	}
}
