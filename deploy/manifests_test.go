package deploy

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// doc is one YAML document of a file under deploy/.
type doc struct {
	file string
	node *yaml.Node
}

func (d doc) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, d.node.Decode(v), d.file)
}

// loadYAML parses every .yaml/.yml file under deploy/ (every document of
// multi-document files) and fails on the first that does not parse.
func loadYAML(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "parse %s", path)
			if len(n.Content) > 0 && n.Content[0].Kind != 0 && !(n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
				docs = append(docs, doc{file: path, node: &n})
			}
		}
		return nil
	})
	require.NoError(t, err)
	return docs
}

// header is what every Kubernetes object has.
type header struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
}

type deployment struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int64      `yaml:"terminationGracePeriodSeconds"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func (c container) probes() map[string]*probe {
	return map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
}

// env returns the value of the container's variable name.
func (c container) env(name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// port resolves a probe or Service port (a number or a port name) to a
// container port number; 0 when it names none.
func (c container) port(p any) int {
	for _, cp := range c.Ports {
		switch v := p.(type) {
		case int:
			if v == cp.ContainerPort {
				return v
			}
		case string:
			if v == cp.Name {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

type service struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type selectorSpec struct {
	header `yaml:",inline"`
	Spec   struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		Triggers []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
		SecretTargetRef []struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretTargetRef"`
	} `yaml:"spec"`
}

type configMap struct {
	header     `yaml:",inline"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

// k8s is every Kubernetes object under deploy/k8s, by kind.
type k8s struct {
	deployments map[string]deployment
	services    []service
	selectors   []selectorSpec // PodDisruptionBudget, ScaledObject, HPA, TriggerAuthentication
	configMaps  map[string]configMap
	secrets     map[string]configMap
}

func loadK8s(t *testing.T, docs []doc) k8s {
	t.Helper()
	out := k8s{deployments: map[string]deployment{}, configMaps: map[string]configMap{}, secrets: map[string]configMap{}}
	for _, d := range docs {
		if !strings.HasPrefix(d.file, "k8s/") {
			continue
		}
		var h header
		d.decode(t, &h)
		if h.Kind == "Kustomization" {
			continue
		}
		require.NotEmpty(t, h.APIVersion, "%s: apiVersion", d.file)
		require.NotEmpty(t, h.Metadata.Name, "%s: %s without a name", d.file, h.Kind)
		switch h.Kind {
		case "Deployment":
			var v deployment
			d.decode(t, &v)
			out.deployments[h.Metadata.Name] = v
		case "Service":
			var v service
			d.decode(t, &v)
			out.services = append(out.services, v)
		case "ConfigMap":
			var v configMap
			d.decode(t, &v)
			out.configMaps[h.Metadata.Name] = v
		case "Secret":
			var v configMap
			d.decode(t, &v)
			out.secrets[h.Metadata.Name] = v
		case "PodDisruptionBudget", "ScaledObject", "HorizontalPodAutoscaler", "TriggerAuthentication":
			var v selectorSpec
			d.decode(t, &v)
			out.selectors = append(out.selectors, v)
		default:
			t.Fatalf("%s: unexpected kind %s", d.file, h.Kind)
		}
	}
	return out
}

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]struct {
		Image           string            `yaml:"image"`
		Command         []string          `yaml:"command"`
		Environment     map[string]string `yaml:"environment"`
		Volumes         []string          `yaml:"volumes"`
		Ports           []string          `yaml:"ports"`
		StopGracePeriod string            `yaml:"stop_grace_period"`
		Healthcheck     struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// prometheusConfig is the part of prometheus.yml the checks read.
type prometheusConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func docOf(t *testing.T, docs []doc, file string) doc {
	t.Helper()
	for _, d := range docs {
		if d.file == file {
			return d
		}
	}
	t.Fatalf("%s not found under deploy/", file)
	return doc{}
}
