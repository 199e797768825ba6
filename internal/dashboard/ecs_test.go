package dashboard

import (
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// TestAnECSServiceShowsItsClusterAndTasks lists an app's ECS service next
// to its Auto Scaling Group: the app page names the service with its
// cluster and lists its tasks, the release page names the new ECS service
// with its cluster.
func TestAnECSServiceShowsItsClusterAndTasks(t *testing.T) {
	e := newEnv(t)
	e.src.mu.Lock()
	e.src.groups = append(e.src.groups, Group{Region: "us-east-1", App: "shop", Service: "api", ReleaseID: releaseID(1), Name: "shop-api-1",
		Cluster: "elevator-demo", Desired: 2, Serving: true, Stopped: 3, Instances: []Instance{
			{ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Lifecycle: "InService", Healthy: true, Health: "UNKNOWN", Targets: map[string]string{"tg-api": "healthy"}},
			{ID: "1a2b3c4d5e6f70819203a4b5c6d7e8f9", Lifecycle: "Pending", Healthy: true, Health: "UNKNOWN", Targets: map[string]string{"tg-api": "unregistered"}}}})
	rec := e.src.recs[releaseID(1)]
	rec.Regions[0].Services = append(rec.Regions[0].Services, elevator.ReleaseServiceRecord{Service: "api", Group: "shop-api-1", Cluster: "elevator-demo", Desired: 2,
		Health: elevator.ReleaseGroupHealth{Launch: 2, Needed: 2, InService: 1, Healthy: 1, Terminating: 3}})
	e.src.mu.Unlock()
	c := e.client(t, bob)

	var page string
	for deadline := time.Now().Add(10 * time.Second); ; {
		var code int
		code, page = body(t, c, e.url+"/apps/shop")
		if code == 200 && strings.Contains(page, "shop-api-1") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the summary is read again every Poll
	}
	for _, want := range []string{
		"api: ECS service shop-api-1 (cluster elevator-demo, serving)", "1/2 ready, 3 stopped",
		`<th scope="col">Task</th>`, `<th scope="col">Container health</th>`,
		"<td>0f1e2d3c4b5a69788796a5b4c3d2e1f0</td><td>InService</td><td>UNKNOWN</td>",
		"<td>1a2b3c4d5e6f70819203a4b5c6d7e8f9</td><td>Pending</td><td>UNKNOWN</td>",
		"web: group shop-web-1 (serving)", `<th scope="col">Instance</th>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the app page does not show %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "group shop-api-1") {
		t.Errorf("the app page calls the ECS service a group:\n%s", page)
	}

	_, page = body(t, c, e.url+"/releases/"+releaseID(1))
	for _, want := range []string{"<td>ECS service shop-api-1 (cluster elevator-demo)</td><td>1 / 2</td><td>1</td><td>3</td>", "<td>shop-web-", "(tasks: stopping or stopped)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the release page does not show %q:\n%s", want, page)
		}
	}
}
