package elevator

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckVersionTakesOCITagsOnly(t *testing.T) {
	tests := []struct {
		name, version string
		ok            bool
	}{
		{"a semantic version", "1.4.2", true},
		{"a tag with letters, underscores and dashes", "v2_rc-1.build.7", true},
		{"a tag starting with an underscore", "_latest", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"nothing", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"a space", "1.0 0", false},
		{"a newline", "1.0\n", false},
		{"a systemd specifier and a shell expansion", `1.0%H${HOME}"x`, false},
		{"a slash", "1.0/../x", false},
		{"a leading dot", ".1", false},
		{"a leading dash", "-1", false},
		{"a non-ASCII letter", "1.0é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckVersion(tt.version)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckVersion(%q) = %v, want ok %v", tt.version, err, tt.ok)
			}
			if err != nil && ErrorCode(err) != EINVALID {
				t.Errorf("code %q, want %q", ErrorCode(err), EINVALID)
			}
		})
	}
}

func TestCheckReleaseIDTakesWhatNewReleaseIDMakes(t *testing.T) {
	made, err := NewReleaseID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	at, err := ReleaseIDAt(time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.FixedZone("X", 3600)), strings.NewReader("\x9f\x86\xd0\x81"))
	if err != nil || at != "20261123-110000123-9f86d081" {
		t.Fatalf("ReleaseIDAt = %q, %v, want 20261123-110000123-9f86d081", at, err)
	}
	// Ids made before they counted milliseconds are still release ids.
	for _, id := range []string{made, at, "20261123-120000-9f86d081"} {
		if err := CheckReleaseID(id); err != nil {
			t.Errorf("CheckReleaseID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "../../x", "20261123-120000-9f86d081/../x", "20261123-120000-9F86D081", "20261123-120000-9f86d08",
		"20261123-120000-9f86d0811", " 20261123-120000-9f86d081", "20261123-1200001-9f86d081", "20261123-12000012-9f86d081",
		"20261123-1200001234-9f86d081", "20261123-120000123-9f86d08", "20261123-120000123-", "20261123-120000123"} {
		if err := CheckReleaseID(id); ErrorCode(err) != EINVALID {
			t.Errorf("CheckReleaseID(%q) = %v, want an invalid-input error", id, err)
		}
	}
}

func TestReleaseCheckRefusesAVersionThatIsNoTag(t *testing.T) {
	r := Release{ID: "20261123-120000-9f86d081", Version: "1.0%H"}
	err := r.Check()
	if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), `version "1.0%H": want an OCI image tag`) {
		t.Errorf("Check() = %v, want it to refuse the version", err)
	}
}

// TestReleaseCheckMeasuresUserDataAsTheEngineFillsIt: a document (one
// written by hand, say) whose user data fits as written but not once the
// engine has filled its placeholders for a region is refused, naming the
// service, the region and the size.
func TestReleaseCheckMeasuresUserDataAsTheEngineFillsIt(t *testing.T) {
	ud := "#!/bin/sh\n" + strings.Repeat("echo {{REGION}}\n", 1000) // 16,010 bytes as written
	r := Release{ID: "20261123-120000-9f86d081", App: "shop", Orbit: "prod", Version: "1.4.2", Services: []ReleaseService{{
		Name: "web", UserData: ud,
		Placements: []ReleasePlacement{{Region: "us-east-1"}, {Region: "ap-southeast-2"}},
	}}}
	if len(ud) > MaxUserData {
		t.Fatalf("the user data as written is %d bytes, over the limit already", len(ud))
	}
	err := r.CheckUserData()
	if ErrorCode(err) != EINVALID {
		t.Fatalf("CheckUserData() = %v, want EINVALID", err)
	}
	want := "service web: user data of 20010 bytes in ap-southeast-2 once its placeholders are filled; EC2 takes at most 16384 (16 KB)"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("CheckUserData() = %v, want it to say %q and nothing of us-east-1 (15,010 bytes filled)", err, want)
	}
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "services[0]: user data of 20010 bytes in ap-southeast-2") {
		t.Errorf("Check() = %v, want it to refuse the user data", err)
	}
}

func TestSubmissionKeyNamesTheReleaseID(t *testing.T) {
	id := "20261123-120000-9f86d081"
	if got, ok := SubmissionID(SubmissionKey(id)); !ok || got != id {
		t.Errorf("SubmissionID(SubmissionKey(%q)) = %q, %v", id, got, ok)
	}
	for _, key := range []string{"submissions/.json", "submissions/a/b.json", "releases/x.json", "submissions/x"} {
		if _, ok := SubmissionID(key); ok {
			t.Errorf("SubmissionID(%q) is ok", key)
		}
	}
}

func TestReleaseIDAtRefusesAYearOfOtherThanFourDigits(t *testing.T) {
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if id, err := ReleaseIDAt(at, strings.NewReader("abcd")); ErrorCode(err) != EINVALID {
			t.Errorf("ReleaseIDAt(%s) = %q, %v, want an invalid-input error", at, id, err)
		}
	}
	if _, err := ReleaseIDAt(time.Now(), strings.NewReader("ab")); err == nil {
		t.Error("ReleaseIDAt with a reader of two bytes made an id")
	}
}

// Ids of both forms, listed in the order of the times they stand for: an
// id of the old form stands for the start of its second, before every id
// of the new form in that second. Sorted as strings (as DynamoDB and S3
// sort them) they keep this order, and so do their stamps.
func TestReleaseIDsOfBothFormsSortByTheTimeTheyWereMade(t *testing.T) {
	inOrder := []string{
		"20261123-115959-ffffffff",
		"20261123-115959999-00000000",
		"20261123-120000-00000000",
		"20261123-120000-ffffffff",
		"20261123-120000000-00000000",
		"20261123-120000000-ffffffff",
		"20261123-120000001-00000000",
		"20261123-120000999-ffffffff",
		"20261123-120001-00000000",
		"20261123-120001000-00000000",
		"20261124-000000-00000000",
	}
	for i := range inOrder {
		for j := range inOrder {
			a, b := inOrder[i], inOrder[j]
			if (a < b) != (i < j) {
				t.Errorf("%s < %s is %v, want %v", a, b, a < b, i < j)
			}
			sa, sb := ReleaseIDStamp(a), ReleaseIDStamp(b)
			if sa != sb && (sa < sb) != (i < j) {
				t.Errorf("stamps %s < %s is %v, want %v", sa, sb, sa < sb, i < j)
			}
		}
	}
	shuffled := slices.Clone(inOrder)
	slices.Reverse(shuffled)
	slices.Sort(shuffled)
	if !slices.Equal(shuffled, inOrder) {
		t.Errorf("sorted: %v, want %v", shuffled, inOrder)
	}
}

func TestReleaseIDStampIsTheTimePartOfAnId(t *testing.T) {
	for id, want := range map[string]string{
		"20261123-120000123-9f86d081": "20261123-120000123",
		"20261123-120000-9f86d081":    "20261123-120000",
		"20261123-120000":             "20261123-120000",
		"x":                           "x",
		"":                            "",
	} {
		if got := ReleaseIDStamp(id); got != want {
			t.Errorf("ReleaseIDStamp(%q) = %q, want %q", id, got, want)
		}
	}
}

// Ids made in one process sort in the order they were made, even when
// the clock reads the same millisecond each time or steps back.
func TestNewReleaseIDsOfOneProcessSortInTheOrderTheyWereMade(t *testing.T) {
	now := time.Now()
	clock := []time.Time{now, now, now.Add(time.Microsecond), now.Add(-time.Second), now.Add(-time.Hour), now, now.Add(time.Millisecond)}
	var ids []string
	for _, at := range clock {
		id, err := NewReleaseID(at, strings.NewReader("\x00\x00\x00\x00"))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckReleaseID(id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		if ReleaseIDStamp(ids[i-1]) >= ReleaseIDStamp(ids[i]) {
			t.Errorf("id %d %s does not sort after id %d %s", i, ids[i], i-1, ids[i-1])
		}
	}
	if first, _ := ReleaseIDAt(now, strings.NewReader("\x00\x00\x00\x00")); ids[0] < first {
		t.Errorf("the first id %s is before its clock's %s", ids[0], first)
	}
}

// Ids made at once by many goroutines are all different in their stamps.
func TestNewReleaseIDsMadeAtOnceHaveDifferentStamps(t *testing.T) {
	const n = 200
	stamps := make(chan string, n)
	var wg sync.WaitGroup
	now := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := NewReleaseID(now, nil)
			if err != nil {
				t.Error(err)
			}
			stamps <- ReleaseIDStamp(id)
		}()
	}
	wg.Wait()
	close(stamps)
	seen := map[string]bool{}
	for s := range stamps {
		if seen[s] {
			t.Errorf("two ids with the stamp %s", s)
		}
		seen[s] = true
	}
}

// An id refused (a time beyond year 9999) does not move the clock of the
// ids made after it.
func TestARefusedReleaseIDLeavesTheNextOnesAlone(t *testing.T) {
	if id, err := NewReleaseID(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil); err == nil {
		t.Fatalf("NewReleaseID in the year 10000 = %q", id)
	}
	now := time.Now()
	id, err := NewReleaseID(now, nil)
	if err != nil {
		t.Fatalf("NewReleaseID after a refused one: %v", err)
	}
	if !strings.HasPrefix(id, now.UTC().Format("20060102")) && !strings.HasPrefix(id, now.UTC().Add(time.Hour).Format("20060102")) {
		t.Errorf("NewReleaseID after a refused one = %q, want an id of about %s", id, now.UTC())
	}
}

func TestReleaseIDTimeIsWhenTheIdWasMade(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 30, 15, 123_000_000, time.UTC)
	id, err := ReleaseIDAt(at, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want time.Time
		ok   bool
	}{
		{id, at, true},
		{"20261129-123015-9f86d081", at.Truncate(time.Second), true},
		{"../x", time.Time{}, false},
		{"20261399-123015-9f86d081", time.Time{}, false},
	} {
		got, ok := ReleaseIDTime(c.id)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("ReleaseIDTime(%q) = %v, %v; want %v, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}

// ecsRelease is a valid release of two services: web on Auto Scaling
// Groups and api on ECS (Fargate), both in one region.
func ecsRelease() *Release {
	return &Release{
		ID: "20261123-120000-9f86d081", CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), CreatedBy: "arn:aws:iam::123456789012:user/ann",
		App: "shop", Orbit: "prod", Version: "1.4.2", Regions: []string{"us-east-1"}, TimeoutSeconds: 3600,
		Services: []ReleaseService{
			{
				Name: "web", InstanceType: "t3.small", UserData: "#!/bin/sh\n",
				Capacity:   ReleaseCapacity{Min: 1, Max: 2},
				Placements: []ReleasePlacement{{Region: "us-east-1", Image: "ami-0abcdef1234567890", Subnets: []string{"subnet-1"}, InstanceProfile: "shop-web"}},
			},
			{
				Name: "api", Capacity: ReleaseCapacity{Min: 2, Max: 4},
				ECS: &ReleaseECS{Capacity: ECSFargate, CPU: 512, Memory: 1024,
					Ports: []ReleasePort{{Container: 8080, Protocol: "tcp"}, {Container: 9000, Protocol: "udp"}}, Env: map[string]string{"LOG_LEVEL": "info"}},
				Placements: []ReleasePlacement{{
					Region: "us-east-1", Image: "public.ecr.aws/nginx/nginx:1.4.2", Subnets: []string{"subnet-1"},
					Cluster: ECSClusterName("prod"), TaskRole: "arn:aws:iam::123456789012:role/shop-prod-api-task",
					ExecutionRole: "arn:aws:iam::123456789012:role/elevator/shop-prod-api-execution", LogGroup: "/elevator/prod/shop",
					Env: map[string]string{"DATABASE_HOST": "db.example"},
					Secrets: []ReleaseSecret{
						{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf:password::"},
						{Name: "TOKEN", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/shop/token"},
					},
				}},
			},
		},
	}
}

func TestReleaseCheckTakesAnECSService(t *testing.T) {
	r := ecsRelease()
	if err := r.Check(); err != nil {
		t.Fatalf("Check() = %v, want nil", err)
	}
	for _, capacity := range []string{ECSFargateSpot, ECSEC2} {
		r.Services[1].ECS.Capacity = capacity
		if err := r.Check(); err != nil {
			t.Errorf("Check() with capacity %s = %v, want nil", capacity, err)
		}
	}
	r.Services[1].ECS.CPU, r.Services[1].ECS.Memory = 300, 700 // no Fargate size, but EC2 takes it
	if err := r.Check(); err != nil {
		t.Errorf("Check() of cpu 300, memory 700 on ec2 = %v, want nil", err)
	}
}

// TestReleaseCheckRefusesBadECSFields breaks one field of a valid release
// per row; Check must name it, and say nothing else.
func TestReleaseCheckRefusesBadECSFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(web, api *ReleaseService)
		want   []string
	}{
		{"an instance type, user data and hooks", func(_, api *ReleaseService) {
			api.InstanceType, api.UserData = "t3.micro", "#!/bin/sh\n"
			api.Hooks = []ReleaseHook{{Name: "drain", Transition: HookTerminating}}
		}, []string{`services[1].instance_type "t3.micro": an ECS service has none`, `services[1].user_data: an ECS service has none`, `services[1].lifecycle_hooks: an ECS service has none`}},
		{"an unknown capacity", func(_, api *ReleaseService) { api.ECS.Capacity = "lambda" },
			[]string{`services[1].ecs.capacity "lambda": want fargate, fargate_spot or ec2`}},
		{"a size Fargate does not take", func(_, api *ReleaseService) { api.ECS.Memory = 512 },
			[]string{`services[1].ecs: cpu 512 with memory 512: not a size Fargate takes (see FargateSizes)`}},
		{"a size Fargate Spot does not take", func(_, api *ReleaseService) { api.ECS.Capacity, api.ECS.CPU = ECSFargateSpot, 384 },
			[]string{`services[1].ecs: cpu 384 with memory 1024: not a size Fargate takes (see FargateSizes)`}},
		{"no cpu or memory", func(_, api *ReleaseService) { api.ECS.CPU, api.ECS.Memory, api.ECS.Capacity = 0, -1, ECSEC2 },
			[]string{`services[1].ecs.cpu 0: want CPU units above 0`, `services[1].ecs.memory -1: want MiB above 0`}},
		{"bad ports", func(_, api *ReleaseService) {
			api.ECS.Ports = []ReleasePort{{Container: 0, Protocol: "tcp"}, {Container: 8080, Protocol: "sctp"}, {Container: 70000, Protocol: "udp"}, {Container: 9000, Protocol: "udp"}}
		}, []string{`services[1].ecs.ports[0] 0/tcp: want a port from 1 to 65535, tcp or udp`, `services[1].ecs.ports[1] 8080/sctp: want a port from 1 to 65535, tcp or udp`,
			`services[1].ecs.ports[2] 70000/udp: want a port from 1 to 65535, tcp or udp`}},
		{"a port twice", func(_, api *ReleaseService) {
			api.ECS.Ports = append(api.ECS.Ports, ReleasePort{Container: 8080, Protocol: "tcp"})
		},
			[]string{`services[1].ecs.ports[2] 8080/tcp: listed twice`}},
		{"a placement without cluster, roles, log group or image", func(_, api *ReleaseService) {
			p := &api.Placements[0]
			p.Cluster, p.TaskRole, p.ExecutionRole, p.LogGroup, p.Image = "", "", "shop-prod-api-execution", "", ""
		}, []string{`services[1].placements[0].image: missing`, `services[1].placements[0].cluster: missing`, `services[1].placements[0].task_role "": want a role ARN`,
			`services[1].placements[0].execution_role "shop-prod-api-execution": want a role ARN`, `services[1].placements[0].log_group: missing`}},
		{"an instance profile", func(_, api *ReleaseService) { api.Placements[0].InstanceProfile = "shop-api" },
			[]string{`services[1].placements[0].instance_profile "shop-api": an ECS service has none (its tasks act as task_role)`}},
		{"bad secrets and env", func(_, api *ReleaseService) {
			p := &api.Placements[0]
			p.Env["1BAD"] = "x"
			p.Secrets = append(p.Secrets,
				ReleaseSecret{Name: "DB-PASSWORD", ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"},
				ReleaseSecret{Name: "TOKEN", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/shop/token"},
				ReleaseSecret{Name: "PLAIN", ValueFrom: "hunter2"},
				ReleaseSecret{Name: "S3", ValueFrom: "arn:aws:s3:::bucket/key"})
		}, []string{`services[1].placements[0].env "1BAD": not an environment variable name`,
			`services[1].placements[0].secrets[2].name "DB-PASSWORD": want an environment variable name (letters, digits and '_', not starting with a digit)`,
			`services[1].placements[0].secrets[3].name "TOKEN": listed twice`,
			`services[1].placements[0].secrets[4].value_from: want the ARN of a Secrets Manager secret or SSM parameter`,
			`services[1].placements[0].secrets[5].value_from: want the ARN of a Secrets Manager secret or SSM parameter`}},
		{"ECS placement fields on an Auto Scaling Group service", func(web, _ *ReleaseService) {
			p := &web.Placements[0]
			p.Cluster, p.TaskRole, p.ExecutionRole, p.LogGroup = "elevator-prod", "arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b", "/x"
			p.Env, p.Secrets = map[string]string{"A": "b"}, []ReleaseSecret{{Name: "B", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/b"}}
		}, []string{`services[0].placements[0].cluster: only the placement of an ECS service (ecs set) has one`,
			`services[0].placements[0].task_role: only the placement of an ECS service (ecs set) has one`,
			`services[0].placements[0].execution_role: only the placement of an ECS service (ecs set) has one`,
			`services[0].placements[0].log_group: only the placement of an ECS service (ecs set) has one`,
			`services[0].placements[0].env: only the placement of an ECS service (ecs set) has one`,
			`services[0].placements[0].secrets: only the placement of an ECS service (ecs set) has one`}},
		{"an Auto Scaling Group service without an instance type", func(web, _ *ReleaseService) { web.InstanceType = "" },
			[]string{`services[0].instance_type: missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ecsRelease()
			tt.mutate(&r.Services[0], &r.Services[1])
			err := r.Check()
			if ErrorCode(err) != EINVALID {
				t.Fatalf("Check() = %v, want EINVALID", err)
			}
			want := "release 20261123-120000-9f86d081 is invalid:\n  " + strings.Join(tt.want, "\n  ")
			if err.Error() != want {
				t.Errorf("Check():\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestReleaseCheckRefusesAnSSMTestOnAnECSService(t *testing.T) {
	for _, tt := range []struct {
		service, want string
	}{
		{"api", `tests.smoke[0].service: an ssm test runs on an instance of its service (without service, the first), and api runs on ECS`},
		{"", ""}, // the first service, web, runs on instances
	} {
		r := ecsRelease()
		r.Tests = &ReleaseTests{Smoke: []ReleaseTest{{Name: "db", Kind: TestSSM, Service: tt.service, Command: []string{"true"}}}}
		err := r.Check()
		if tt.want == "" {
			if err != nil {
				t.Errorf("service %q: Check() = %v, want nil", tt.service, err)
			}
			continue
		}
		if err == nil || !strings.HasSuffix(err.Error(), "\n  "+tt.want) || strings.Count(err.Error(), "\n  ") != 1 {
			t.Errorf("service %q: Check() = %v, want only %q", tt.service, err, tt.want)
		}
	}
	r := ecsRelease()
	r.Services[0], r.Services[1] = r.Services[1], r.Services[0]
	r.Tests = &ReleaseTests{Smoke: []ReleaseTest{{Name: "db", Kind: TestSSM, Command: []string{"true"}}}}
	want := `tests.smoke[0].service: an ssm test runs on an instance of its service (without service, the first), and api runs on ECS`
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an ssm test without service when the first runs on ECS: Check() = %v, want %q", err, want)
	}
}
