package slackapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackapi"
)

// TestUploadFile: the three steps of Slack's external upload against the
// fake, which records the bytes and shares the file in the DM; a 429 on
// the first step is waited out; the fake refuses what Slack refuses.
func TestUploadFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.client(t, slackapi.Options{})
	content := bytes.Repeat([]byte("item,decision\n"), 500)
	f.fake.FailNext("files.getUploadURLExternal", 1, 429, time.Second)
	id, err := c.UploadFile(context.Background(), "C0REPORTS", "q1.csv", "Q1 review", "Your report", content)
	if err != nil {
		t.Fatal(err)
	}
	files := f.fake.Files()
	if len(files) != 1 || files[0].ID != id || !files[0].Shared || files[0].Channel != "C0REPORTS" || files[0].Name != "q1.csv" ||
		files[0].Title != "Q1 review" || files[0].InitialComment != "Your report" || !bytes.Equal(files[0].Content, content) {
		t.Fatalf("files %+v", files)
	}
	if calls := f.fake.Calls("files.getUploadURLExternal"); len(calls) != 2 || calls[0].Status != 429 {
		t.Fatalf("getUploadURLExternal calls %+v, want a 429 then an ok", calls)
	}

	// The fake refuses an unknown file, one never uploaded, and a wrong length.
	api := slack.New(f.team.BotToken, slack.OptionAPIURL(f.fake.URL()))
	if _, err := api.CompleteUploadExternalContext(context.Background(), slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: "F404"}}, Channel: "C0REPORTS"}); err == nil || !strings.Contains(err.Error(), "file_not_found") {
		t.Fatalf("complete an unknown file: %v", err)
	}
	u, err := api.GetUploadURLExternalContext(context.Background(), slack.GetUploadURLExternalParameters{FileName: "x.csv", FileSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CompleteUploadExternalContext(context.Background(), slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: u.FileID}}, Channel: "C0REPORTS"}); err == nil || !strings.Contains(err.Error(), "file_upload_not_completed") {
		t.Fatalf("complete before the upload: %v", err)
	}
	resp, err := http.Post(u.UploadURL, "application/octet-stream", strings.NewReader("too short"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("upload of 9 bytes declared as 10: HTTP %d", resp.StatusCode)
	}
	if _, err := api.GetUploadURLExternalContext(context.Background(), slack.GetUploadURLExternalParameters{FileName: "x.csv", FileSize: 1 << 30}); err == nil {
		t.Fatal("a 1 GiB upload was accepted")
	}
}
