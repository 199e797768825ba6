package cli_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// Chaos parameters: the lease is short so that the releases of a killed
// replica are resumed within seconds; kills happen during the first
// chaosWindow of the run, one every chaosMinGap to chaosMaxGap.
const (
	chaosReplicas = 3
	chaosApps     = 10
	chaosReleases = 100
	chaosLease    = "10s"
	chaosWindow   = 40 * time.Second
	chaosMinGap   = 2 * time.Second
	chaosMaxGap   = 5 * time.Second
)

// TestDeployerChaos submits 100 releases of 10 apps at once through the
// bucket to three deployer processes, and during the first part of the
// run SIGKILLs a replica picked at random every few seconds, starting a
// replacement each time. Then every release must end Success or
// FailureClean (the split is logged; FailureDirty or not ended fails),
// each record must show one driver at a time, and the SDK (not Elevator)
// must find no lock left in the locks table and each app with the Auto
// Scaling group and launch template of one release only.
//
// The random picks and gaps come from a seed, logged, which
// ELEVATOR_CHAOS_SEED sets to replay a run; ELEVATOR_CHAOS_LOGS names a
// directory to keep every replica's log in.
func TestDeployerChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ELEVATOR_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ELEVATOR_CHAOS_SEED=%q: want an unsigned integer", s)
		}
		seed = n
	}
	t.Logf("chaos seed %d (ELEVATOR_CHAOS_SEED=%d replays the picks)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	in := newIntake(t, chaosApps)
	var all, live []*replica
	if dir := os.Getenv("ELEVATOR_CHAOS_LOGS"); dir != "" {
		// Every replica's whole log, kept for a failure's post-mortem.
		t.Cleanup(func() {
			for _, r := range all {
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("deployer-%d.log", r.cmd.Process.Pid)), []byte(r.out.String()), 0o644)
			}
		})
	}
	startOne := func() *replica {
		r := in.start(t, emulatortest.Endpoint(), "--lease", chaosLease)
		all = append(all, r)
		return r
	}
	for range chaosReplicas {
		live = append(live, startOne())
	}

	var rels []*domain.Release
	for i := range chaosReleases {
		rels = append(rels, in.release(t, fmt.Sprintf("app%02d", i%chaosApps), fmt.Sprintf("1.0.%d", i/chaosApps)))
	}
	var ids []string
	start := time.Now()
	var wg sync.WaitGroup
	for _, rel := range rels {
		ids = append(ids, rel.ID)
		wg.Add(1)
		go func() { defer wg.Done(); in.submit(t, rel) }()
	}
	wg.Wait()

	killedPIDs := map[string]time.Time{}
	kills := 0
	for time.Since(start) < chaosWindow {
		gap := chaosMinGap + time.Duration(rng.Int64N(int64(chaosMaxGap-chaosMinGap)))
		time.Sleep(gap)
		for _, r := range live {
			r.alive(t)
		}
		i := rng.IntN(len(live))
		victim := live[i]
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := <-victim.exited
		victim.exited <- err
		kills++
		killedPIDs[strconv.Itoa(victim.cmd.Process.Pid)] = time.Now()
		live[i] = startOne()
		t.Logf("%s: killed deployer %d, started %d", time.Since(start).Round(time.Millisecond), victim.cmd.Process.Pid, live[i].cmd.Process.Pid)
	}
	chaosEnded := time.Now()

	recs := in.waitEnded(t, ids, 6*time.Minute, live...)
	took := time.Since(start)
	split := map[domain.ReleaseState]int{}
	for id, rec := range recs {
		split[rec.State]++
		if rec.State != domain.StateSuccess && rec.State != domain.StateFailureClean {
			t.Errorf("release %s of %s ended %s: %s (leftovers %v)", id, rec.App, rec.State, rec.Error, rec.Leftovers)
		}
	}
	t.Logf("%d releases of %d apps, %d replicas, %d kills in the first %s: all ended %s after submission (%s after the last kill); Success %d, FailureClean %d, FailureDirty %d",
		len(ids), chaosApps, chaosReplicas, kills, chaosWindow, took.Round(time.Millisecond), time.Since(chaosEnded).Round(time.Millisecond),
		split[domain.StateSuccess], split[domain.StateFailureClean], split[domain.StateFailureDirty])
	for id, rec := range recs {
		if rec.State == domain.StateFailureClean {
			t.Logf("release %s of %s: FailureClean: %s", id, rec.App, rec.Error)
		}
	}

	// A driver's owner name is host/pid/random.
	killed := func(driver string) (time.Time, bool) {
		parts := strings.Split(driver, "/")
		if len(parts) != 3 {
			return time.Time{}, false
		}
		at, ok := killedPIDs[parts[1]]
		return at, ok
	}
	counts, gaps := checkDrivers(t, recs, killed, all...)
	if len(gaps) > 0 {
		// A figure, not a check: the lease (10s) bounds it from below,
		// the emulator's load from above.
		slices.Sort(gaps)
		t.Logf("releases of killed deployers resumed %s after the kill at the median, %s at most (lease %s)",
			gaps[len(gaps)/2].Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond), chaosLease)
	}
	resumed := 0
	for _, n := range counts {
		if n > 1 {
			resumed++
		}
	}
	t.Logf("%d releases had more than one driver (resumed after a kill)", resumed)
	if kills > 0 && resumed == 0 {
		t.Errorf("%d kills, and no release was resumed by another deployer: the chaos hit nothing", kills)
	}

	groups, templates := in.leftovers(t)
	for i := range chaosApps {
		app := fmt.Sprintf("app%02d", i)
		if len(groups[app]) != 1 || len(templates[app]) != 1 {
			t.Errorf("%s: groups %v, launch templates %v; want those of one release only", app, groups[app], templates[app])
		}
	}
	for app := range groups {
		if !strings.HasPrefix(app, "app") {
			t.Errorf("groups %v of no app of the test", groups[app])
		}
	}
	// A replica may have read a release's record just before another
	// ended it, and claimed its lock: it lets go of it as soon as it
	// finds the release ended. So the table is read until it is empty, for
	// two leases (20s) at most; a lock still there then is left behind.
	var out *dynamodb.ScanOutput
	for settle := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var err error
		out, err = dynamodb.NewFromConfig(in.acct.Config("us-east-1")).Scan(context.Background(), &dynamodb.ScanInput{
			TableName: aws.String(domain.LocksTableName(in.orbit)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) == 0 || time.Now().After(settle) {
			break
		}
	}
	for _, item := range out.Items {
		str := func(k string) string {
			v, _ := item[k].(*ddbtypes.AttributeValueMemberS)
			if v == nil {
				return ""
			}
			return v.Value
		}
		expires := ""
		if v, ok := item["expires_ns"].(*ddbtypes.AttributeValueMemberN); ok {
			ns, _ := strconv.ParseInt(v.Value, 10, 64)
			expires = time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		}
		t.Errorf("lock %s left in %s: release %s, owner %s, lease until %s (now %s)", str("id"), domain.LocksTableName(in.orbit),
			str("release_id"), str("owner"), expires, time.Now().UTC().Format(time.RFC3339Nano))
	}
	for _, r := range live {
		r.alive(t)
	}
}
