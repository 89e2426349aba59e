package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/bot/manifest"
)

func TestManifestCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args    []string
		opts    manifest.Options
		wantErr string
	}{
		{nil, manifest.Options{}, ""},
		{[]string{"--name", "Access Desk", "--redirect-url", "https://a.example/slack/oauth/callback"},
			manifest.Options{Name: "Access Desk", RedirectURL: "https://a.example/slack/oauth/callback"}, ""},
		{[]string{"--redirect-url", "http://a.example/cb"}, manifest.Options{}, "https"},
		{[]string{"--name", strings.Repeat("x", 36)}, manifest.Options{}, "35"},
		{[]string{"extra"}, manifest.Options{}, "unexpected argument"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		m := NewMain()
		cmd := m.manifestCommand()
		cmd.SetArgs(tc.args)
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SilenceUsage = true
		err := cmd.Execute()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want one mentioning %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		want, err := manifest.YAML(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("%v printed:\n%s\nwant:\n%s", tc.args, out.String(), want)
		}
	}
}

// The subcommand is registered on the root: `accessbot manifest` works.
func TestManifestViaRoot(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &errOut
	if err := m.Run(t.Context(), []string{"manifest", "--name", "Access Desk"}); err != nil {
		t.Fatalf("accessbot manifest: %v (stderr %s)", err, errOut.String())
	}
	want, err := manifest.YAML(manifest.Options{Name: "Access Desk"})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}
