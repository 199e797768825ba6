// Package ecsproxy is a fault-injecting proxy in front of moto that answers
// for what moto lacks of ECS: tasks, target health and deployments. moto
// keeps ECS services, task definitions and load balancer settings, but it
// starts no task for a service, never registers one in a target group and
// never moves or fails a deployment (moto/ecs/models.py). The proxy answers
// ListTasks and DescribeTasks with the running tasks a service of its
// desired count would have, each with a private address, and
// DescribeTargetHealth of the target groups of ECS services with those
// addresses healthy. In DescribeServices it makes a service's one
// deployment COMPLETED with the service's desired count running; it can
// mark a service's deployment FAILED (Fail), or answer with deployments
// that are not steady yet (Settle). After an UpdateService that changes a
// service's load balancers its tasks get new ids and addresses, as ECS
// starts a new deployment for such a change. Everything else goes to moto
// unchanged.
//
// The proxy is an aws.HTTPClient (Do) for SDK clients, and an http.Handler
// (ServeHTTP) to run as a server (httptest.NewServer) that a command points
// its endpoint at. It serves any region and cluster: the region comes from
// the request's SigV4 credential scope, the cluster from the request body,
// and a target group's region from its ARN.
package ecsproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Proxy is the fault-injecting proxy in front of moto described above.
type Proxy struct {
	endpoint *url.URL
	creds    aws.CredentialsProvider
	next     *http.Client

	mu      sync.Mutex
	clients map[string]*ecssdk.Client // region -> straight to moto
	failed  map[string]string         // service -> the reason its deployment failed
	// tasks, when set for a service, are its tasks' last statuses, in
	// place of desired-count RUNNING ones; a status ending in
	// "/UNHEALTHY" makes the task's health UNHEALTHY.
	tasks map[string][]string
	// settling, when set for a service, are the deployments
	// DescribeServices answers with, for as many answers as left says.
	settling map[string]*settling
	// generation counts a service's load balancer changes: its tasks'
	// ids and addresses change with it.
	generation map[string]int
	// events are the settling answers given ("settling <service>") and the
	// UpdateService calls passed on ("update <service>[ desired=<n>][ loadBalancers=<n>]"),
	// in order.
	events []string
}

// settling is how a service's deployments look for a number of answers.
type settling struct {
	left        int
	deployments []Deployment
	answered    int // answers given with them
}

// Deployment is a deployment of a service as the proxy tells it.
type Deployment struct {
	Status, Rollout  string
	Running, Desired int
}

// New returns a proxy in front of the moto server at endpoint, which it
// reaches with creds.
func New(endpoint string, creds aws.CredentialsProvider) *Proxy {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		u = &url.URL{Scheme: "http", Host: endpoint}
	}
	return &Proxy{endpoint: u, creds: creds, next: &http.Client{}, clients: map[string]*ecssdk.Client{},
		failed: map[string]string{}, tasks: map[string][]string{}, settling: map[string]*settling{}, generation: map[string]int{}}
}

// ecs is the moto-direct ECS client of the region.
func (p *Proxy) ecs(region string) *ecssdk.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[region]
	if c == nil {
		c = ecssdk.New(ecssdk.Options{Region: region, BaseEndpoint: aws.String(p.endpoint.String()), Credentials: p.creds, HTTPClient: asAccount{p.next}})
		p.clients[region] = c
	}
	return c
}

// AccountHeader is the header that picks a moto account for a request;
// the proxy's own calls to moto for a request go with the request's.
const AccountHeader = "x-moto-account-id"

type accountKey struct{}

// asAccount sends a request with the moto account of its context.
type asAccount struct{ next aws.HTTPClient }

func (a asAccount) Do(r *http.Request) (*http.Response, error) {
	if id, _ := r.Context().Value(accountKey{}).(string); id != "" {
		r.Header.Set(AccountHeader, id)
	}
	return a.next.Do(r)
}

// Settle makes the proxy answer the next n DescribeServices of the
// service with these deployments, then as a steady service again.
func (p *Proxy) Settle(service string, n int, deployments ...Deployment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settling[service] = &settling{left: n, deployments: deployments}
}

// Settled returns how many answers the service's Settle call was given
// and how many it has left.
func (p *Proxy) Settled(service string) (answered, left int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.settling[service]; s != nil {
		return s.answered, s.left
	}
	return 0, 0
}

// Log returns the proxy's events so far.
func (p *Proxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Fail makes the proxy say the service's primary deployment FAILED.
func (p *Proxy) Fail(service, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed[service] = reason
}

// SetTasks makes the proxy answer with tasks of these last statuses for
// the service.
func (p *Proxy) SetTasks(service string, statuses ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tasks[service] = statuses
}

// TaskIP is the private address of a service's i-th task, as the proxy
// answers it now.
func (p *Proxy) TaskIP(service string, i int) string {
	p.mu.Lock()
	g := p.generation[service]
	p.mu.Unlock()
	return taskIP(service, g, i)
}

func taskIP(service string, generation, i int) string {
	h := fnv.New32a()
	h.Write([]byte(service))
	return fmt.Sprintf("10.%d.%d.%d", 100+h.Sum32()%50, (h.Sum32()>>8+uint32(generation)*7)%250, i+1)
}

// ServeHTTP answers a request sent to the proxy as a server.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.endpoint.Scheme, p.endpoint.Host
	out.Host = r.Host
	resp, err := p.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// Do answers a request sent by an SDK client through the proxy.
func (p *Proxy) Do(r *http.Request) (*http.Response, error) {
	op, body, err := operation(r)
	if err != nil {
		return nil, err
	}
	region := Region(r)
	// The moto-direct calls made for this request go as its moto account.
	r = r.WithContext(context.WithValue(r.Context(), accountKey{}, r.Header.Get(AccountHeader)))
	switch op {
	case "ListTasks", "DescribeTasks":
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		if op == "ListTasks" {
			return p.listTasks(r, region, in)
		}
		return p.describeTasks(r, region, in)
	case "DescribeTargetHealth":
		return p.targetHealth(r, body)
	case "UpdateService":
		var in struct {
			Service       string `json:"service"`
			DesiredCount  *int   `json:"desiredCount"`
			LoadBalancers *[]any `json:"loadBalancers"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		event := "update " + in.Service
		if in.DesiredCount != nil {
			event += fmt.Sprintf(" desired=%d", *in.DesiredCount)
		}
		p.mu.Lock()
		if in.LoadBalancers != nil {
			event += fmt.Sprintf(" loadBalancers=%d", len(*in.LoadBalancers))
			p.generation[name(in.Service)]++
		}
		p.events = append(p.events, event)
		p.mu.Unlock()
	case "DescribeServices":
		resp, err := p.next.Do(r)
		if err != nil || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		return p.deployments(resp)
	}
	return p.next.Do(r)
}

// name is a service's name from its name or ARN.
func name(service string) string { return service[strings.LastIndexByte(service, '/')+1:] }

// Region is the region of a signed request: its SigV4 credential scope's,
// or us-east-1 when it has none.
func Region(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(auth, "Credential="); ok {
		cred, _, _ = strings.Cut(cred, ",")
		if parts := strings.Split(cred, "/"); len(parts) >= 5 {
			return parts[2]
		}
	}
	return "us-east-1"
}

// operation is the AWS operation of a request, from its X-Amz-Target or its
// Action form field, and the request's body, which it leaves readable.
func operation(r *http.Request) (string, []byte, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return "", nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndexByte(t, '.')+1:], body, nil
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, _ := url.ParseQuery(string(body))
		return form.Get("Action"), body, nil
	}
	return "", body, nil
}

func cluster(in map[string]any) string {
	c, _ := in["cluster"].(string)
	if c == "" {
		return "default"
	}
	return name(c)
}

// services is what moto has of the clusters' services in the region.
func (p *Proxy) services(ctx context.Context, region string, clusters ...string) ([]ecstypes.Service, error) {
	c := p.ecs(region)
	if len(clusters) == 0 {
		l, err := c.ListClusters(ctx, &ecssdk.ListClustersInput{})
		if err != nil {
			return nil, err
		}
		clusters = l.ClusterArns
	}
	var out []ecstypes.Service
	for _, cl := range clusters {
		list, err := c.ListServices(ctx, &ecssdk.ListServicesInput{Cluster: aws.String(cl), MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, err
		}
		for arns := list.ServiceArns; len(arns) > 0; {
			n := min(10, len(arns))
			d, err := c.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(cl), Services: arns[:n]})
			if err != nil {
				return nil, err
			}
			out = append(out, d.Services...)
			arns = arns[n:]
		}
	}
	return out, nil
}

func (p *Proxy) taskARN(region, cluster, service string, i int) string {
	p.mu.Lock()
	g := p.generation[service]
	p.mu.Unlock()
	return fmt.Sprintf("arn:aws:ecs:%s:000000000000:task/%s/%s.%d.%d", region, cluster, service, g, i)
}

func (p *Proxy) listTasks(r *http.Request, region string, in map[string]any) (*http.Response, error) {
	svc, _ := in["serviceName"].(string)
	svc = name(svc)
	cl := cluster(in)
	arns := []string{}
	st, _ := in["desiredStatus"].(string)
	p.mu.Lock()
	statuses, set := p.tasks[svc]
	p.mu.Unlock()
	if set {
		for i, s := range statuses {
			if (st == "STOPPED") == strings.HasPrefix(s, "STOPPED") {
				arns = append(arns, p.taskARN(region, cl, svc, i))
			}
		}
		return jsonAnswer(r, map[string]any{"taskArns": arns})
	}
	if st != "STOPPED" {
		d, err := p.ecs(region).DescribeServices(r.Context(), &ecssdk.DescribeServicesInput{Cluster: aws.String(cl), Services: []string{svc}})
		if err != nil {
			return nil, err
		}
		for _, s := range d.Services {
			if aws.ToString(s.ServiceName) != svc || aws.ToString(s.Status) == "INACTIVE" {
				continue
			}
			for i := range int(s.DesiredCount) {
				arns = append(arns, p.taskARN(region, cl, svc, i))
			}
		}
	}
	return jsonAnswer(r, map[string]any{"taskArns": arns})
}

func (p *Proxy) describeTasks(r *http.Request, region string, in map[string]any) (*http.Response, error) {
	var tasks []map[string]any
	list, _ := in["tasks"].([]any)
	for _, a := range list {
		arn, _ := a.(string)
		id := arn[strings.LastIndexByte(arn, '/')+1:]
		// id is <service>.<generation>.<i>
		dot := strings.LastIndexByte(id, '.')
		i, _ := strconv.Atoi(id[dot+1:])
		svc := id[:dot]
		gdot := strings.LastIndexByte(svc, '.')
		g, _ := strconv.Atoi(svc[gdot+1:])
		svc = svc[:max(gdot, 0)]
		status, health := "RUNNING", "HEALTHY"
		p.mu.Lock()
		if statuses, ok := p.tasks[svc]; ok && i < len(statuses) {
			status, health, _ = strings.Cut(statuses[i], "/")
			if health == "" {
				health = "HEALTHY"
			}
		}
		p.mu.Unlock()
		tasks = append(tasks, map[string]any{
			"taskArn": arn, "lastStatus": status, "desiredStatus": "RUNNING", "healthStatus": health,
			"attachments": []any{map[string]any{"type": "ElasticNetworkInterface", "status": "ATTACHED", "details": []any{
				map[string]any{"name": "privateIPv4Address", "value": taskIP(svc, g, i)},
			}}},
		})
	}
	return jsonAnswer(r, map[string]any{"tasks": tasks, "failures": []any{}})
}

func (p *Proxy) targetHealth(r *http.Request, body []byte) (*http.Response, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	tg := form.Get("TargetGroupArn")
	region := Region(r)
	if parts := strings.Split(tg, ":"); len(parts) > 3 && parts[3] != "" {
		region = parts[3]
	}
	services, err := p.services(r.Context(), region)
	if err != nil {
		return nil, err
	}
	var ips []string
	ours := false
	for _, s := range services {
		for _, lb := range s.LoadBalancers {
			if aws.ToString(lb.TargetGroupArn) != tg {
				continue
			}
			ours = true
			if aws.ToString(s.Status) == "INACTIVE" {
				continue
			}
			for i := range int(s.DesiredCount) {
				ips = append(ips, p.TaskIP(aws.ToString(s.ServiceName), i))
			}
		}
	}
	if !ours {
		return p.next.Do(r)
	}
	var b strings.Builder
	b.WriteString(`<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTargetHealthResult><TargetHealthDescriptions>`)
	for _, ip := range ips {
		fmt.Fprintf(&b, `<member><Target><Id>%s</Id><Port>8080</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>`, ip)
	}
	b.WriteString(`</TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`)
	return answer(r, "text/xml", []byte(b.String())), nil
}

func (p *Proxy) deployments(resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	p.mu.Lock()
	services, _ := out["services"].([]any)
	for _, s := range services {
		m, _ := s.(map[string]any)
		name := fmt.Sprint(m["serviceName"])
		deps, _ := m["deployments"].([]any)
		if len(deps) == 0 {
			continue
		}
		d, _ := deps[0].(map[string]any)
		desired := m["desiredCount"]
		d["desiredCount"], d["runningCount"], d["pendingCount"], d["rolloutState"] = desired, desired, 0, "COMPLETED"
		d["rolloutStateReason"] = fmt.Sprintf("ECS deployment %v completed.", d["id"])
		if st := p.settling[name]; st != nil && st.left > 0 {
			st.left--
			st.answered++
			p.events = append(p.events, "settling "+name)
			deps = nil
			for i, x := range st.deployments {
				deps = append(deps, map[string]any{"id": fmt.Sprintf("ecs-svc/%d", i), "status": x.Status, "rolloutState": x.Rollout,
					"runningCount": x.Running, "desiredCount": x.Desired, "taskDefinition": m["taskDefinition"]})
			}
			m["deployments"] = deps
		}
		if reason, ok := p.failed[name]; ok {
			for _, x := range deps {
				if d, _ := x.(map[string]any); d["status"] == "PRIMARY" {
					d["rolloutState"], d["rolloutStateReason"] = "FAILED", reason
				}
			}
		}
	}
	p.mu.Unlock()
	if body, err = json.Marshal(out); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func jsonAnswer(r *http.Request, v any) (*http.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return answer(r, "application/x-amz-json-1.1", body), nil
}

func answer(r *http.Request, contentType string, body []byte) *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{contentType}, "X-Amzn-Requestid": []string{"proxy"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}
}
