package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// listRecords is how many release records of one app the list test
// stores.
const listRecords = 10_000

// TestDeployerListPagesTenThousandReleasesReadingOnePageEach stores 10,000
// release records of one app in the orbit's releases table on the
// emulator, and walks them page by page through a deployer's API (the
// first 10 pages; all of them, twice, with ELEVATOR_DEPLOYER_BENCH set, as
// for TestDeployerFigures): every record comes once, newest first, and the
// deployer's own metrics (its SDK middleware) show one DynamoDB Query per
// page, never a read of the whole app. The latency of the list requests is
// printed (p50, p99), not asserted.
//
// The records are copies of one written by the store itself
// (awsrelease.Store.PutRecord), read back raw and given new ids, so they
// are in the store's own format; they are written with BatchWriteItem.
func TestDeployerListPagesTenThousandReleasesReadingOnePageEach(t *testing.T) {
	in := newIntake(t, 1)
	ctx := context.Background()
	cfg := in.acct.Config("us-east-1")
	ddb := dynamodb.NewFromConfig(cfg)
	table := domain.ReleasesTableName(in.orbit)

	// One record through the store, as the engine writes it.
	rel := in.release(t, "app00", "1.0.0")
	now := time.Now().UTC()
	rec := &domain.ReleaseRecord{ID: rel.ID, App: "app00", Orbit: in.orbit, Revision: 1, State: domain.StateSuccess,
		Owner: "list-test", SubmittedAt: now, UpdatedAt: now, Path: []domain.ReleaseState{domain.StateValidate, domain.StateSuccess},
		Visits: []time.Time{now, now}}
	if err := in.store.PutRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"app": &ddbtypes.AttributeValueMemberS{Value: "app00"}, "release_id": &ddbtypes.AttributeValueMemberS{Value: rel.ID}}})
	if err != nil || got.Item == nil {
		t.Fatalf("the store's record item: %v", err)
	}
	proto := got.Item

	// Copies, one a second back from now, so that ids sort by age.
	seedStart := time.Now()
	ids := make([]string, listRecords)
	items := make([]map[string]ddbtypes.AttributeValue, listRecords)
	for i := range listRecords {
		id, err := domain.ReleaseIDAt(now.Add(-time.Duration(i+1)*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := *rec
		c.ID = id
		b, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		item := make(map[string]ddbtypes.AttributeValue, len(proto))
		for k, v := range proto {
			item[k] = v
		}
		item["release_id"] = &ddbtypes.AttributeValueMemberS{Value: id}
		item["record"] = &ddbtypes.AttributeValueMemberS{Value: string(b)}
		ids[i], items[i] = id, item
	}
	batches := make(chan []map[string]ddbtypes.AttributeValue)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				reqs := make([]ddbtypes.WriteRequest, len(batch))
				for i, it := range batch {
					reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: it}}
				}
				pending := map[string][]ddbtypes.WriteRequest{table: reqs}
				for len(pending[table]) > 0 {
					out, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err != nil {
						t.Error(err)
						return
					}
					pending = out.UnprocessedItems
				}
			}
		}()
	}
	for i := 0; i < len(items); i += 25 {
		batches <- items[i:min(i+25, len(items))]
	}
	close(batches)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d records stored in %s", listRecords, time.Since(seedStart).Round(time.Millisecond))
	want := append([]string{rel.ID}, ids...) // newest first

	// A deployer serving its API; the caller may view app00.
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	caller := aws.ToString(who.Arn)
	f, err := os.OpenFile(in.orbitFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "access:\n  - {role: viewer, principals: [%q], apps: [app00]}\n", caller)
	f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// It drives no pipeline executions: their index is a Query every
	// --pipeline-every, which would fall among the pages' counted ones.
	r := in.start(t, emulatortest.Endpoint(), "--listen", addr, "--pipeline-every", "0")
	url := "http://" + addr
	if err := pollUntil(time.Minute, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		r.alive(t)
		t.Fatal(err)
	}
	client := &api.Client{BaseURL: url, ServerID: domain.DeployerServerID(in.orbit), AWS: cfg}
	if _, _, err := client.List(ctx, "app00", 1, ""); err != nil { // the first call signs, and STS is asked once
		t.Fatal(err)
	}

	queries := func() float64 {
		n, _ := sample(scrape(t, url), "elevator_aws_calls_total", map[string]string{"service": "DynamoDB", "operation": "Query"})
		return n
	}
	// The suite walks the first pages; the figures walk every page twice
	// (moto answers a query of a 10,000-item partition in about a second).
	walks, maxPages, limit := 1, 10, api.MaxLimit
	if n, _ := strconv.Atoi(os.Getenv("ELEVATOR_DEPLOYER_BENCH")); n > 0 {
		walks, maxPages = 2, len(want)
	}
	before := queries()
	var lat []time.Duration
	pages := 0
	for w := range walks {
		var seen []string
		cursor := ""
		for page := 0; page < maxPages; page++ {
			start := time.Now()
			recs, next, err := client.List(ctx, "app00", limit, cursor)
			lat = append(lat, time.Since(start))
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, rec := range recs {
				seen = append(seen, rec.ID)
			}
			if next == "" {
				break
			}
			if len(recs) != limit {
				t.Fatalf("walk %d: a page of %d records with a cursor after it; want %d", w, len(recs), limit)
			}
			cursor = next
		}
		if wanted := want[:min(len(want), maxPages*limit)]; !slices.Equal(seen, wanted) {
			t.Fatalf("walk %d: %d records listed, want the %d stored first, newest first", w, len(seen), len(wanted))
		}
	}
	used := queries() - before
	// Each page is one Query of at most limit items; a deployer with no
	// pipeline to look at and no release to run queries nothing else. Reading the whole app for a page would take
	// ten or more Queries a page (DynamoDB returns at most 1 MB a call).
	if used > float64(pages) {
		t.Errorf("%v DynamoDB queries for %d pages: a page read more than its own records", used, pages)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("FIGURES list of %d records, %d per page: %d requests, %v DynamoDB queries; p50=%s p99=%s",
		len(want), limit, len(lat), used, pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
}
