package main

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/playbooks"
)

// The scheduled connector sync hears of the playbooks: without the hook,
// a scheduled sync would never send sync.completed (only `accessbot sync` did).
func TestScheduledSyncJobRunsPlaybooks(t *testing.T) {
	rt := &Runtime{Log: zerolog.Nop(), Playbooks: playbooks.New(playbooks.Config{})}
	if j := rt.syncJob(); j.AfterImport == nil || j.FindingsOpened == nil {
		t.Fatal("the scheduled connector sync job has no playbooks hook")
	}
	rt.Playbooks = nil
	if j := rt.syncJob(); j.AfterImport != nil || j.FindingsOpened != nil {
		t.Fatal("a hook without a playbook service")
	}
}
