package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/queue"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// devFlags are the flags of segq dev.
type devFlags struct {
	addr, simAddr, redisURL string
	noDemo                  bool
}

func newDevCmd(g *globalFlags) *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system in one process on embedded defaults",
		Long: `Runs an in-process Redis (unless --redis), the MoEngage simulator, the API,
the callback endpoint, a worker and the dashboard, then a demo job to success
(unless --no-demo). Workspaces without data_center or base_url use the simulator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cfg, f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.addr, "addr", "", "API listen address (env SEGQ_ADDR, default :8080)")
	cmd.Flags().StringVar(&f.simAddr, "sim-addr", "", "simulator listen address (env SEGQ_SIM_ADDR, default :8090)")
	cmd.Flags().StringVar(&f.redisURL, "redis", "", "use this Redis URL instead of the embedded one")
	cmd.Flags().BoolVar(&f.noDemo, "no-demo", false, "do not run the demo job")
	return cmd
}

// devStack is the running dev system.
type devStack struct {
	apiURL, simURL string
	apiL, simL     net.Listener
	sim            *moesim.Server
	mini           *miniredis.Miniredis
}

func runDev(ctx context.Context, cfg *config.Config, f *devFlags, out interface{ Write([]byte) (int, error) }) error {
	st, err := prepareDev(cfg, f)
	if err != nil {
		return err
	}
	defer st.close()
	a, err := stack.New(cfg, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if st.sim, err = newDevSimulator(cfg, st.simURL, a.Log); err != nil {
		return err
	}
	dash, err := stack.DashboardConn(cfg.Redis)
	if err != nil {
		return err
	}
	api, closeAPI, err := a.API(dash)
	if err != nil {
		return err
	}
	defer closeAPI()
	w, err := a.Worker()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "segq dev is running\n  status:    %s/\n  API:       %s/v1/jobs\n  limits:    %s/v1/limits?workspace=%s\n  dashboard: %s/monitoring/\n  metrics:   %s/metrics\n  simulator: %s/_sim/stats\n  redis:     %s\n",
		st.apiURL, st.apiURL, st.apiURL, cfg.Workspaces[0].ID, st.apiURL, st.apiURL, st.simURL, cfg.Redis.URL)
	return runAll(ctx,
		func(ctx context.Context) error {
			return stack.ServeHTTP(ctx, httpapi.NewHTTPServer("", api), st.apiL, a.Log)
		},
		func(ctx context.Context) error {
			return stack.ServeHTTP(ctx, httpapi.NewHTTPServer("", devSimHandler(st.sim)), st.simL, a.Log)
		},
		w.Run,
		func(ctx context.Context) error {
			if f.noDemo {
				return nil
			}
			return runDemo(ctx, a, st, out)
		},
	)
}

// prepareDev fills the config with dev defaults: embedded Redis, listeners,
// a demo workspace, loopback fetches, no API tokens, random secrets.
func prepareDev(cfg *config.Config, f *devFlags) (*devStack, error) {
	st := &devStack{}
	var err error
	if f.redisURL != "" {
		cfg.Redis = config.Redis{URL: f.redisURL}
	} else {
		if st.mini, err = miniredis.Run(); err != nil {
			return nil, fmt.Errorf("embedded redis: %w", err)
		}
		cfg.Redis = config.Redis{URL: "redis://" + st.mini.Addr()}
	}
	if st.apiL, err = net.Listen("tcp", cmp.Or(f.addr, cfg.Addr)); err != nil {
		st.close()
		return nil, err
	}
	if st.simL, err = net.Listen("tcp", cmp.Or(f.simAddr, cfg.SimAddr)); err != nil {
		st.close()
		return nil, err
	}
	st.apiURL, st.simURL = loopbackURL(st.apiL), loopbackURL(st.simL)
	if cfg.Log.Format == "json" && !envSet("SEGQ_LOG_FORMAT") {
		cfg.Log.Format = "console"
	}
	cfg.PublicURL = cmp.Or(cfg.PublicURL, st.apiURL)
	cfg.APITokens = nil
	if cfg.CallbackSecret == "" {
		cfg.CallbackSecret = config.Secret(randomHex(32))
	}
	cfg.Files.AllowNetworks = append(cfg.Files.AllowNetworks, "127.0.0.0/8", "::1/128")
	if len(cfg.Workspaces) == 0 {
		cfg.Workspaces = []config.Workspace{{ID: "demo"}}
		cfg.WithDefaults()
	}
	for i := range cfg.Workspaces {
		w := &cfg.Workspaces[i]
		if w.DataCenter == "" && w.BaseURL == "" {
			w.BaseURL = st.simURL
		}
		if w.APIKey == "" {
			w.APIKey = config.Secret("dev-key-" + w.ID)
		}
	}
	return st, cfg.Validate()
}

func (st *devStack) close() {
	for _, l := range []net.Listener{st.apiL, st.simL} {
		if l != nil {
			_ = l.Close()
		}
	}
	if st.sim != nil {
		st.sim.Close()
	}
	if st.mini != nil {
		st.mini.Close()
	}
}

// newDevSimulator runs the simulator for the workspaces that point at it,
// with their limits (without segq's safety margin), fetching and calling
// back over loopback.
func newDevSimulator(cfg *config.Config, simURL string, log *zap.Logger) (*moesim.Server, error) {
	client := safehttp.NewClient(safehttp.Options{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, Timeout: time.Minute,
	})
	return moesim.New(moesim.Config{
		Workspaces:      stack.SimWorkspaces(cfg, func(w config.Workspace) bool { return w.BaseURL == simURL }),
		ProcessingDelay: time.Second, HTTPClient: client, Logger: log.Named("sim"),
	})
}

// devSimHandler serves the simulator plus the demo file.
func devSimHandler(sim *moesim.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_dev/files/demo.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write(demoFile(500))
	})
	mux.Handle("/", sim.Handler())
	return mux
}

// demoFile returns n distinct GAID-shaped values, one per line.
func demoFile(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "3f2a6b1c-%04x-4e5f-9a8b-%012x\n", i%0x10000, i)
	}
	return []byte(b.String())
}

// runDemo enqueues a create through the queue client and follows it until
// it ends.
func runDemo(ctx context.Context, a *stack.Stack, st *devStack, out interface{ Write([]byte) (int, error) }) error {
	ws := ""
	for _, w := range a.Cfg.Workspaces {
		if w.BaseURL == st.simURL {
			ws = w.ID
			break
		}
	}
	if ws == "" {
		fmt.Fprintln(out, "no workspace uses the simulator: skipping the demo job")
		return nil
	}
	jobs := a.Jobs(nil)
	defer jobs.Close()
	j, _, err := jobs.Enqueue(ctx, queue.Request{
		Workspace: ws, Name: "segq-demo-" + time.Now().UTC().Format("20060102-150405"),
		AttributeName: "gaid", AttributeType: "string", FileURL: st.simURL + "/_dev/files/demo.csv", ExpiryTime: 30,
	}, queue.EnqueueOptions{})
	if err != nil {
		return fmt.Errorf("demo job: %w", err)
	}
	fmt.Fprintf(out, "demo job %s enqueued: %s/v1/jobs/%s\n", j.ID, st.apiURL, j.ID)
	err = poll(ctx, 250*time.Millisecond, func() (bool, error) {
		var err error
		j, err = jobs.Get(ctx, j.ID)
		return err == nil && j.State.Terminal(), err
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo job: %w", err)
	}
	if j.State != queue.StateSucceeded {
		a.Log.Error("demo job did not succeed", zap.String("job_id", j.ID), zap.String("state", string(j.State)), zap.String("error", j.Error))
		return errors.New("demo job " + string(j.State) + ": " + j.Error)
	}
	a.Log.Info("demo job succeeded", zap.String("job_id", j.ID), zap.Int64p("user_count", j.UserCount))
	fmt.Fprintf(out, "demo job %s succeeded: %s/v1/jobs/%s\n", j.ID, st.apiURL, j.ID)
	return nil
}

func loopbackURL(l net.Listener) string {
	return fmt.Sprintf("http://127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func envSet(name string) bool {
	_, ok := os.LookupEnv(name)
	return ok
}
