package moesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/segq/segq/internal/moengage"
)

// Upstream's callback failure messages (reference/moengage-api.md).
const (
	msgDownloadFailed = "File download failed. Created custom_segment contains 0 users."
	msgInternal       = "Internal Server Error. Contact MoEngage Team."
)

func msgTooLarge(limit int64) string {
	size := strconv.FormatInt(limit, 10) + " bytes"
	if limit%(1<<20) == 0 {
		size = strconv.FormatInt(limit>>20, 10) + "MB"
	}
	return "File size cannot be greater than " + size + ". Created custom_segment contains 0 users."
}

// fileResult is what the download of a request's file found.
type fileResult struct {
	found     int64  // rows in the file
	processed int64  // rows with usable data (non-empty; numbers for double)
	users     int64  // non-empty rows: what the users window counts
	failure   string // the callback's error_message when unusable
}

// fetch downloads and counts a file. The simulator downloads when the
// request arrives (upstream does it later) so that the users limit can be
// checked against the file's value count before answering.
func (s *Server) fetch(ctx context.Context, fileURL string, limit int64, double bool) fileResult {
	ctx, cancel := s.withClose(ctx)
	defer cancel()
	s.count(func(st *Stats) { st.Downloads++ })
	res, err := s.download(ctx, fileURL, limit, double)
	if err != nil {
		s.count(func(st *Stats) { st.DownloadsFailed++ })
		s.log.Info("download failed", zap.String("file_url", redactURL(fileURL)), zap.Error(scrubErr(err)))
	}
	return res
}

func (s *Server) download(ctx context.Context, fileURL string, limit int64, double bool) (fileResult, error) {
	failed := fileResult{failure: msgDownloadFailed}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fileURL, nil)
	if err != nil {
		return failed, err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return failed, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failed, fmt.Errorf("status %d", resp.StatusCode)
	}
	tooLarge := fileResult{failure: msgTooLarge(limit)}
	if resp.ContentLength > limit {
		return tooLarge, nil
	}
	c := &valueCounter{double: double}
	n, err := io.Copy(c, io.LimitReader(resp.Body, limit+1))
	if n > limit {
		return tooLarge, nil
	}
	if err != nil {
		return failed, err
	}
	c.finish()
	return fileResult{found: c.found, processed: c.processed, users: c.users}, nil
}

// process finishes an accepted job after the processing delay: it applies
// the outcome to the segment and sends the callback, with faults.
func (s *Server) process(j job) {
	defer s.count(func(st *Stats) { st.InFlight-- })
	s.mu.Lock()
	slow := s.faults.SlowDownload
	s.mu.Unlock()
	if !s.sleep(s.cfg.ProcessingDelay + slow) {
		return
	}
	payload, f, lost, dup := s.finish(j)
	log := s.log.With(zap.String("workspace", j.workspace), zap.String("op", string(j.op)),
		zap.String("request_id", j.requestID), zap.Int("status", payload.Status))
	if j.callbackURL == "" {
		return
	}
	if lost {
		s.count(func(st *Stats) { st.CallbacksLost++ })
		log.Info("callback lost (fault)")
		return
	}
	if !s.sleep(f.CallbackDelay) {
		return
	}
	s.sendCallback(j.callbackURL, payload, log)
	if dup {
		s.count(func(st *Stats) { st.CallbacksDuplicated++ })
		s.sendCallback(j.callbackURL, payload, log)
	}
}

// finish decides a job's outcome under the lock, applies it to the segment
// and draws the callback faults.
func (s *Server) finish(j job) (p moengage.CallbackPayload, f Faults, lost, dup bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Processed++
	f = s.faults
	p = moengage.CallbackPayload{DBName: j.dbName, SegmentName: j.seg.name, RequestID: j.requestID}
	switch {
	case j.file.failure != "":
		p.Status, p.ErrorMessage = moengage.CallbackClientError, j.file.failure
	case s.chance(f.Callback5xx):
		p.Status, p.ErrorMessage = moengage.CallbackServerError, msgInternal
	default:
		p.Status = moengage.CallbackSucceeded
		found, processed := j.file.found, j.file.processed
		p.ValuesFound, p.ValuesProcessed, p.UserCount = &found, &processed, &processed
		applyUsers(j.seg, j.op, processed)
	}
	lost = s.chance(f.LostCallback)
	dup = !lost && s.chance(f.DuplicateCallback)
	return p, f, lost, dup
}

// applyUsers updates a segment's user count after a processed file; every
// processed value is taken to match one user.
func applyUsers(g *segment, o op, n int64) {
	switch o {
	case opCreate, opAdd:
		g.users += n
	case opRemove:
		g.users = max(g.users-n, 0)
	case opReplace:
		g.users = n
	}
}

// sendCallback POSTs the payload once; upstream documents no retries.
func (s *Server) sendCallback(callbackURL string, p moengage.CallbackPayload, log *zap.Logger) {
	err := s.post(callbackURL, p)
	s.count(func(st *Stats) {
		if err != nil {
			st.CallbacksFailed++
		} else {
			st.CallbacksSent++
		}
	})
	if err != nil {
		log.Info("callback failed", zap.Error(scrubErr(err)))
		return
	}
	log.Debug("callback sent")
}

func (s *Server) post(callbackURL string, p moengage.CallbackPayload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "segq-moesim/1")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("callback answered %d", resp.StatusCode)
	}
	return nil
}

// scrubErr drops the URL from a client error: file and callback URLs carry
// credentials (presigned queries, callback signatures).
func scrubErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

// redactURL drops the query of a URL for logs: presigned file URLs carry
// credentials there.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}
