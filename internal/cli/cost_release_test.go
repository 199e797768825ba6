package cli

import (
	"context"
	"fmt"
	"os"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// pagedRecords is a fake of the orbit's release records (awsrelease.Store
// reads DynamoDB a page at a time; this serves pages from a slice, newest
// first) and counts the pages read.
type pagedRecords struct {
	recs  []*elevator.ReleaseRecord
	docs  map[string][]byte
	pages int
}

func (p *pagedRecords) Page(_ context.Context, _ string, limit int, before string) ([]*elevator.ReleaseRecord, string, error) {
	p.pages++
	start := 0
	for i, r := range p.recs {
		if r.ID == before {
			start = i + 1
		}
	}
	end := min(start+limit, len(p.recs))
	page, next := p.recs[start:end], ""
	if len(page) == limit {
		next = page[len(page)-1].ID
	}
	return page, next, nil
}

func (p *pagedRecords) Release(_ context.Context, id string) ([]byte, string, error) {
	if d, ok := p.docs[id]; ok {
		return d, "", nil
	}
	return nil, "", os.ErrNotExist
}

// The last success lies past the first pages of failed releases: it is
// found, not taken for none.
func TestLastSuccessPagesPastFailedReleases(t *testing.T) {
	doc := []byte(`{"id":"20261123-120000-9f86d081","created_at":"2026-11-23T12:00:00Z","created_by":"alice","app":"shop","orbit":"prod","version":"1.4.2","regions":["us-east-1"],"timeout_seconds":600,"services":[{"name":"web","instance_type":"t3.small","user_data":"<&>","capacity":{"min":1,"max":4,"spread":0.2},"placements":[{"region":"us-east-1","image":"ami-1","subnets":["subnet-a"]}]}]}`)
	rel, err := elevator.ParseRelease(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := &pagedRecords{docs: map[string][]byte{}}
	for i := range 2*releasePage + 10 {
		id := fmt.Sprintf("20261130-%06d-00000000", 999999-i)
		state := elevator.StateFailureClean
		if i == 2*releasePage+5 {
			state = elevator.StateSuccess
			p.docs[id] = doc
		}
		p.recs = append(p.recs, &elevator.ReleaseRecord{ID: id, App: rel.App, State: state})
	}
	got, err := lastSuccess(context.Background(), p, rel.App)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.App != rel.App {
		t.Fatalf("last success = %+v, want the release on the third page", got)
	}
	if p.pages != 3 {
		t.Errorf("read %d pages, want 3", p.pages)
	}
	// none succeeded: every page is read, and there is none
	p = &pagedRecords{recs: p.recs[:2*releasePage+5], docs: p.docs}
	if got, err := lastSuccess(context.Background(), p, rel.App); err != nil || got != nil {
		t.Errorf("with no success: %+v, %v", got, err)
	}
}
