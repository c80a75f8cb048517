package deploy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

const image = "ghcr.io/segq/segq"

// handlers are the real HTTP handlers of segq serve and segq worker, to
// check that probe and scrape paths exist.
type handlers struct{ api, worker http.Handler }

func newHandlers(t *testing.T) handlers {
	t.Helper()
	mini := miniredis.RunT(t)
	cfg := &config.Config{Redis: config.Redis{URL: "redis://" + mini.Addr()}, PublicURL: "http://segq.test",
		CallbackSecret: "deploy-test-secret-0123456789abcdef"}
	cfg.WithDefaults()
	s, err := stack.New(cfg, zap.NewNop())
	require.NoError(t, err)
	api, closeAPI, err := s.API(nil)
	require.NoError(t, err)
	t.Cleanup(func() { closeAPI(); s.Close() })
	return handlers{api: api, worker: s.OpsHandler()}
}

// requireServes fails unless h answers GET path with 200.
func requireServes(t *testing.T, h http.Handler, path, where string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, "%s: GET %s", where, path)
}

// known are the environment variables segq reads: config.EnvNames plus
// the api_key_env of every workspace of the given configs.
func known(cfgs ...*config.Config) map[string]bool {
	names := map[string]bool{}
	for _, n := range config.EnvNames() {
		names[n] = true
	}
	for _, c := range cfgs {
		for _, w := range c.Workspaces {
			if w.APIKeyEnv != "" {
				names[w.APIKeyEnv] = true
			}
		}
	}
	return names
}

func requireKnownEnv(t *testing.T, names map[string]bool, name, where string) {
	t.Helper()
	if strings.HasPrefix(name, "SEGQ_") {
		require.True(t, names[name], "%s: %s is not a setting segq reads (config.EnvNames or a workspace's api_key_env)", where, name)
	}
}

// parseConfig parses a mounted config file the way segq does (without
// the environment), applies defaults and validates it.
func parseConfig(t *testing.T, raw, where string) *config.Config {
	t.Helper()
	cfg := &config.Config{}
	require.NoError(t, config.Parse([]byte(raw), cfg), where)
	cfg.WithDefaults()
	require.NoError(t, cfg.Validate(), where)
	return cfg
}

// addrPort is the port of a listen address such as ":8080".
func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	n, err := strconv.Atoi(p)
	require.NoError(t, err, addr)
	return n
}

// dockerfile is what the Dockerfile says about ports and the health check.
type dockerfile struct {
	expose      []int
	healthcheck string
	raw         string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	d := dockerfile{raw: string(raw)}
	lines := strings.Split(strings.ReplaceAll(string(raw), "\\\n", " "), "\n")
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "EXPOSE":
			for _, p := range f[1:] {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				require.NoError(t, err, "EXPOSE %s", p)
				d.expose = append(d.expose, n)
			}
		case "HEALTHCHECK":
			d.healthcheck = l
		}
	}
	return d
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t)
	require.Contains(t, d.raw, "CGO_ENABLED=0", "a static binary")
	require.Regexp(t, `(?m)^FROM .* AS build$`, d.raw, "multi-stage")
	require.Regexp(t, `(?m)^USER 65532:65532$`, d.raw, "non-root")
	require.Contains(t, d.raw, "./cmd/segq")
	require.ElementsMatch(t, []int{8080, 9090, 8090}, d.expose)
	// The health check runs the binary's hidden probe command against the
	// API's default address and an existing path.
	m := regexp.MustCompile(`"probe", "http://127\.0\.0\.1:(\d+)(/[a-z]+)"`).FindStringSubmatch(d.healthcheck)
	require.NotNil(t, m, "HEALTHCHECK uses segq probe: %s", d.healthcheck)
	require.Equal(t, "8080", m[1])
	requireServes(t, newHandlers(t).api, m[2], "Dockerfile HEALTHCHECK")
}

func TestEveryYAMLParses(t *testing.T) {
	t.Parallel()
	docs := loadYAML(t)
	files := map[string]bool{}
	for _, d := range docs {
		files[d.file] = true
	}
	for _, f := range []string{"docker-compose.yml", "prometheus.yml", "segq.yaml", "k8s/api.yaml", "k8s/worker.yaml",
		"k8s/configmap.yaml", "k8s/secret.example.yaml", "k8s/keda-scaledobject.yaml", "k8s/hpa.yaml", "k8s/kustomization.yaml",
		"grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/dashboards/segq.yml"} {
		require.True(t, files[f], "%s missing or empty", f)
	}
	loadK8s(t, docs)
}

func TestKubernetesCrossReferences(t *testing.T) {
	t.Parallel()
	docs := loadYAML(t)
	k := loadK8s(t, docs)
	h := newHandlers(t)
	expose := readDockerfile(t).expose

	cm, ok := k.configMaps["segq-config"]
	require.True(t, ok, "ConfigMap segq-config")
	cfg := parseConfig(t, cm.Data["segq.yaml"], "ConfigMap segq-config segq.yaml")
	names := known(cfg)
	secret, ok := k.secrets["segq-secrets"]
	require.True(t, ok, "Secret segq-secrets")
	for key := range secret.StringData {
		requireKnownEnv(t, names, key, "Secret segq-secrets")
	}
	for _, w := range cfg.Workspaces {
		if w.APIKeyEnv != "" {
			require.Contains(t, secret.StringData, w.APIKeyEnv, "the Secret template carries workspace %s's key", w.ID)
		}
	}

	roles := map[string]http.Handler{"serve": h.api, "worker": h.worker}
	for name, d := range k.deployments {
		spec := d.Spec.Template.Spec
		require.Equal(t, d.Spec.Selector.MatchLabels, pick(d.Spec.Template.Metadata.Labels, d.Spec.Selector.MatchLabels), "%s: selector matches the pod labels", name)
		require.Len(t, spec.Containers, 1, name)
		c := spec.Containers[0]
		repo, tag, _ := strings.Cut(c.Image, ":")
		require.Equal(t, image, repo, "%s: image", name)
		require.NotEmpty(t, tag, "%s: image tag", name)
		require.NotEmpty(t, c.Args, name)
		handler, ok := roles[c.Args[0]]
		require.True(t, ok, "%s runs segq %s", name, c.Args[0])

		for _, e := range c.Env {
			requireKnownEnv(t, names, e.Name, name)
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				require.Contains(t, k.secrets, ef.SecretRef.Name, "%s: envFrom secret", name)
			}
		}
		// The config file is mounted where SEGQ_CONFIG says, from the ConfigMap.
		path, ok := c.env("SEGQ_CONFIG")
		require.True(t, ok, "%s sets SEGQ_CONFIG", name)
		requireMounted(t, name, c, spec, path, "segq-config", cm)

		// Ports: exposed by the image, listened on by segq, probed and scraped.
		listen := "SEGQ_ADDR"
		if c.Args[0] == "worker" {
			listen = "SEGQ_WORKER_ADDR"
		}
		addr, ok := c.env(listen)
		require.True(t, ok, "%s sets %s", name, listen)
		port := addrPort(t, addr)
		require.NotZero(t, c.port(port), "%s: %s port %d is a containerPort", name, listen, port)
		for _, p := range c.Ports {
			require.Contains(t, expose, p.ContainerPort, "%s: containerPort %d is EXPOSEd by the Dockerfile", name, p.ContainerPort)
		}
		for kind, p := range c.probes() {
			if p == nil {
				continue
			}
			require.NotNil(t, p.HTTPGet, "%s %s probe", name, kind)
			require.Equal(t, port, c.port(p.HTTPGet.Port), "%s %s probe port", name, kind)
			requireServes(t, handler, p.HTTPGet.Path, fmt.Sprintf("%s %s probe", name, kind))
		}
		require.NotNil(t, c.LivenessProbe, "%s liveness", name)
		require.NotNil(t, c.ReadinessProbe, "%s readiness", name)
		require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
		require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
		ann := d.Spec.Template.Metadata.Annotations
		require.Equal(t, strconv.Itoa(port), ann["prometheus.io/port"], "%s scrape port", name)
		requireServes(t, handler, ann["prometheus.io/path"], name+" scrape path")

		if c.Args[0] == "worker" {
			timeout := cfg.Worker.ShutdownTimeout
			if v, ok := c.env("SEGQ_WORKER_SHUTDOWN_TIMEOUT"); ok {
				var err error
				timeout, err = time.ParseDuration(v)
				require.NoError(t, err)
			}
			require.NotNil(t, spec.TerminationGracePeriodSeconds, name)
			require.Greater(t, time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second, timeout,
				"%s: terminationGracePeriodSeconds above the worker shutdown timeout", name)
		}
	}
	require.Contains(t, k.deployments, "segq-api")
	require.Contains(t, k.deployments, "segq-worker")

	for _, s := range k.services {
		d := selected(t, k, s.Spec.Selector, "Service "+s.Metadata.Name)
		for _, p := range s.Spec.Ports {
			require.NotZero(t, d.Spec.Template.Spec.Containers[0].port(p.TargetPort), "Service %s targetPort %v", s.Metadata.Name, p.TargetPort)
		}
	}
	for _, o := range k.selectors {
		switch o.Kind {
		case "PodDisruptionBudget":
			selected(t, k, o.Spec.Selector.MatchLabels, "PodDisruptionBudget "+o.Metadata.Name)
		case "ScaledObject", "HorizontalPodAutoscaler":
			require.Equal(t, "segq-worker", o.Spec.ScaleTargetRef.Name, "%s scales the workers", o.Kind)
			for _, tr := range o.Spec.Triggers {
				require.Equal(t, "asynq:{"+queue.QueueJobs+"}:pending", tr.Metadata["listName"], "KEDA watches asynq's pending list of the jobs queue")
			}
		case "TriggerAuthentication":
			for _, r := range o.Spec.SecretTargetRef {
				require.Contains(t, k.secrets[r.Name].StringData, r.Key, "TriggerAuthentication secret key")
			}
		}
	}
	kust := docOf(t, docs, "k8s/kustomization.yaml")
	var kz struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
	}
	kust.decode(t, &kz)
	require.Equal(t, image, kz.Images[0].Name)
	for _, r := range kz.Resources {
		_, err := os.Stat("k8s/" + r)
		require.NoError(t, err, "kustomization resource %s", r)
	}
}

// pick returns the entries of labels whose keys are in want.
func pick(labels, want map[string]string) map[string]string {
	out := map[string]string{}
	for k := range want {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// selected returns the one Deployment whose pods the selector matches.
func selected(t *testing.T, k k8s, sel map[string]string, what string) deployment {
	t.Helper()
	var hits []deployment
	for _, d := range k.deployments {
		if len(sel) > 0 && fmt.Sprint(pick(d.Spec.Template.Metadata.Labels, sel)) == fmt.Sprint(sel) {
			hits = append(hits, d)
		}
	}
	require.Len(t, hits, 1, "%s selects exactly one Deployment", what)
	return hits[0]
}

// requireMounted checks that path is a key of the ConfigMap mounted at its
// directory.
func requireMounted(t *testing.T, name string, c container, spec podSpec, path, cmName string, cm configMap) {
	t.Helper()
	dir, file := path[:strings.LastIndex(path, "/")], path[strings.LastIndex(path, "/")+1:]
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cmName {
				require.Contains(t, cm.Data, file, "%s: %s in ConfigMap %s", name, file, cmName)
				return
			}
		}
	}
	t.Fatalf("%s: nothing mounts ConfigMap %s at %s", name, cmName, dir)
}

func TestComposeCrossReferences(t *testing.T) {
	t.Parallel()
	docs := loadYAML(t)
	h := newHandlers(t)
	var c compose
	docOf(t, docs, "docker-compose.yml").decode(t, &c)
	expose := readDockerfile(t).expose
	cfg := parseConfig(t, string(must(os.ReadFile("segq.yaml"))), "deploy/segq.yaml")
	names := known(cfg)

	roles := map[string]struct {
		env     string
		handler http.Handler
	}{"serve": {"SEGQ_ADDR", h.api}, "worker": {"SEGQ_WORKER_ADDR", h.worker}, "simulate": {"SEGQ_SIM_ADDR", nil}}
	ports := map[string]int{} // service -> segq's listen port
	var workers []string
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, image+":") {
			continue
		}
		require.NotEmpty(t, s.Command, name)
		role, ok := roles[s.Command[0]]
		require.True(t, ok, "%s runs segq %s", name, s.Command[0])
		for k := range s.Environment {
			requireKnownEnv(t, names, k, "compose service "+name)
		}
		require.Contains(t, s.Volumes, "./segq.yaml:"+s.Environment["SEGQ_CONFIG"]+":ro", "%s mounts segq.yaml at SEGQ_CONFIG", name)
		port := addrPort(t, s.Environment[role.env])
		require.Contains(t, expose, port, "%s: port %d is EXPOSEd by the Dockerfile", name, port)
		ports[name] = port
		for _, p := range s.Ports {
			require.Equal(t, strconv.Itoa(port), p[strings.LastIndex(p, ":")+1:], "%s publishes its listen port", name)
		}
		m := regexp.MustCompile(`^http://127\.0\.0\.1:(\d+)(/.*)$`).FindStringSubmatch(s.Healthcheck.Test[len(s.Healthcheck.Test)-1])
		require.NotNil(t, m, "%s health check: %v", name, s.Healthcheck.Test)
		require.Equal(t, []string{"CMD", "/usr/local/bin/segq", "probe"}, s.Healthcheck.Test[:3], name)
		require.Equal(t, strconv.Itoa(port), m[1], "%s health check port", name)
		if role.handler != nil {
			requireServes(t, role.handler, m[2], name+" health check")
		} else {
			require.Equal(t, "/_sim/stats", m[2])
		}
		if s.Command[0] == "worker" {
			workers = append(workers, name)
			grace, err := time.ParseDuration(s.StopGracePeriod)
			require.NoError(t, err, "%s stop_grace_period", name)
			timeout := cfg.Worker.ShutdownTimeout
			if v := s.Environment["SEGQ_WORKER_SHUTDOWN_TIMEOUT"]; v != "" {
				timeout = must(time.ParseDuration(v))
			}
			require.Greater(t, grace, timeout, "%s: stop_grace_period above the worker shutdown timeout", name)
		}
	}
	require.Len(t, workers, 2, "two workers")
	for _, svc := range []string{"api", "simulator"} {
		require.Contains(t, ports, svc)
	}
	// The workspaces' upstream is the simulator service, and MoEngage (the
	// simulator) calls back to the API service.
	for _, w := range cfg.Workspaces {
		require.Equal(t, fmt.Sprintf("http://simulator:%d", ports["simulator"]), w.BaseURL, "workspace %s", w.ID)
	}
	require.Equal(t, fmt.Sprintf("http://api:%d", ports["api"]), cfg.PublicURL)
	require.Equal(t, "redis://redis:6379/0", cfg.Redis.URL)
	require.Contains(t, c.Services, "redis")

	// Redis runs deploy/redis.conf, which keeps every write and never evicts.
	redis := c.Services["redis"]
	require.Contains(t, redis.Volumes, "./redis.conf:/usr/local/etc/redis/redis.conf:ro")
	require.Equal(t, []string{"redis-server", "/usr/local/etc/redis/redis.conf"}, redis.Command)
	conf := redisConf(t)
	require.Equal(t, "yes", conf["appendonly"])
	require.Equal(t, "always", conf["appendfsync"])
	require.Equal(t, "noeviction", conf["maxmemory-policy"])
	require.Equal(t, "6379", conf["port"])

	// Prometheus scrapes every segq process on its listen port and path.
	var prom prometheusConfig
	docOf(t, docs, "prometheus.yml").decode(t, &prom)
	require.Contains(t, c.Services["prometheus"].Volumes, "./prometheus.yml:/etc/prometheus/prometheus.yml:ro")
	scraped := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, err := net.SplitHostPort(target)
				require.NoError(t, err)
				require.Equal(t, strconv.Itoa(ports[host]), port, "scrape target %s", target)
				handler := h.api
				if slices.Contains(workers, host) {
					handler = h.worker
				}
				requireServes(t, handler, sc.MetricsPath, "scrape "+target)
				scraped[host] = true
			}
		}
	}
	for _, svc := range append([]string{"api"}, workers...) {
		require.True(t, scraped[svc], "Prometheus scrapes %s", svc)
	}

	// Grafana gets the provisioning and the dashboard.
	g := c.Services["grafana"]
	require.Contains(t, g.Volumes, "./grafana/provisioning:/etc/grafana/provisioning:ro")
	require.Contains(t, g.Volumes, "./grafana/segq-dashboard.json:/var/lib/grafana/dashboards/segq-dashboard.json:ro")
	var ds struct {
		Datasources []struct {
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	docOf(t, docs, "grafana/provisioning/datasources/prometheus.yml").decode(t, &ds)
	require.Equal(t, "http://prometheus:9090", ds.Datasources[0].URL)
}

// redisConf reads redis.conf's directives (first argument only).
func redisConf(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(string(must(os.ReadFile("redis.conf"))), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			out[f[0]] = f[1]
		}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
