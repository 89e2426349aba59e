package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
)

// File is a file uploaded through Slack's external upload flow:
// files.getUploadURLExternal, a POST of the bytes to the upload URL it
// answered, then files.completeUploadExternal, which shares it.
type File struct {
	ID       string
	Team     string
	Name     string // the filename given to files.getUploadURLExternal
	Title    string
	Length   int // the declared length
	Content  []byte
	Uploaded bool
	// Channel, InitialComment and ThreadTS are set once the upload is
	// completed and shared; Shared is false before.
	Channel        string
	InitialComment string
	ThreadTS       string
	Shared         bool
}

// maxUpload bounds one uploaded file, as a sanity limit for tests.
const maxUpload = 64 << 20

// filesGetUploadURLExternal answers as Slack does:
// {"ok":true,"upload_url":"https://files.slack.com/upload/v1/…","file_id":"F…"};
// filename and length are required.
func (s *Server) filesGetUploadURLExternal(r *request) (map[string]any, *apiError) {
	name := r.get("filename")
	n, err := strconv.Atoi(r.get("length"))
	if name == "" || err != nil || n <= 0 {
		return nil, errResp("invalid_arguments")
	}
	if n > maxUpload {
		return nil, errResp("file_too_large")
	}
	s.seq++
	id := fmt.Sprintf("F%09d", s.seq)
	if s.files == nil {
		s.files = map[string]*File{}
	}
	s.files[id] = &File{ID: id, Team: r.team.ID, Name: name, Length: n}
	return map[string]any{"upload_url": s.http.URL + "/upload/v1/" + id, "file_id": id}, nil
}

// serveUpload receives the bytes of one file, as multipart (field "file",
// how slack-go sends it) or as a raw body, and answers "OK - LENGTH" as
// files.slack.com does. A length other than the declared one is refused.
func (s *Server) serveUpload(w http.ResponseWriter, hr *http.Request) {
	id := strings.TrimPrefix(hr.URL.Path, "/upload/v1/")
	if hr.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	ct, params, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(hr.Body, params["boundary"])
		for {
			p, perr := mr.NextPart()
			if perr != nil {
				err = perr
				break
			}
			if p.FormName() == "file" {
				data, err = io.ReadAll(io.LimitReader(p, maxUpload+1))
				break
			}
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(hr.Body, maxUpload+1))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	switch {
	case f == nil:
		http.Error(w, "file_not_found", http.StatusNotFound)
	case err != nil && err != io.EOF:
		http.Error(w, "bad upload: "+err.Error(), http.StatusBadRequest)
	case len(data) != f.Length:
		http.Error(w, fmt.Sprintf("length mismatch: got %d bytes, declared %d", len(data), f.Length), http.StatusBadRequest)
	default:
		f.Content, f.Uploaded = data, true
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "OK - %d", len(data))
		s.notifyLocked()
	}
}

// filesCompleteUploadExternal shares uploaded files in channel_id (a DM
// with a user id opens as D+id) and answers
// {"ok":true,"files":[{"id":"F…","title":"…"}]}.
func (s *Server) filesCompleteUploadExternal(r *request) (map[string]any, *apiError) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.get("files")), &files); err != nil || len(files) == 0 {
		return nil, errResp("invalid_arguments")
	}
	ch := r.get("channel_id")
	if ch != "" {
		resolved, aerr := s.resolveChannelLocked(r.team, ch)
		if aerr != nil {
			return nil, aerr
		}
		ch = resolved
	}
	out := make([]map[string]any, 0, len(files))
	for _, fs := range files {
		f := s.files[fs.ID]
		if f == nil || f.Team != r.team.ID {
			return nil, errResp("file_not_found")
		}
		if !f.Uploaded {
			return nil, errResp("file_upload_not_completed")
		}
		f.Title, f.Channel, f.InitialComment, f.ThreadTS, f.Shared = fs.Title, ch, r.get("initial_comment"), r.get("thread_ts"), ch != ""
		title := f.Title
		if title == "" {
			title = f.Name
		}
		out = append(out, map[string]any{"id": f.ID, "title": title})
	}
	s.notifyLocked()
	return map[string]any{"files": out}, nil
}

// Files returns every file uploaded so far, in upload order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.files))
	for i := int64(0); i <= s.seq; i++ {
		if f, ok := s.files[fmt.Sprintf("F%09d", i)]; ok {
			c := *f
			c.Content = append([]byte(nil), f.Content...)
			out = append(out, c)
		}
	}
	return out
}
