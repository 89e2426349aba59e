package oauth

import (
	"bytes"
	"html/template"
	"net/http"
)

// page is one plain HTML answer: a title and paragraphs, escaped by html/template.
type page struct {
	Title string
	Lines []string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · accessbot</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body>
<h1>{{.Title}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}</body></html>
`))

func writePage(w http.ResponseWriter, status int, p page) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		http.Error(w, p.Title, status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the callback URL carries the code
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
