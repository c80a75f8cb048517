package main

import (
	"cmp"
	"net"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/internal/stack"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func newSimulateCmd(g *globalFlags) *cobra.Command {
	var (
		addr   string
		delay  time.Duration
		faults moesim.Faults
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run the MoEngage file-segment API simulator alone",
		Long: `Serves the upstream file-segment API family with the configured workspaces'
limits (a workspace "demo" with API key "demo-key" when none are configured),
asynchronous processing, callbacks and fault injection. GET /_sim/stats shows
its counters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			log, err := obs.NewLogger(cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			fetch, err := (&stack.Stack{Cfg: cfg}).Fetcher()
			if err != nil {
				return err
			}
			sim, err := moesim.New(moesim.Config{
				Workspaces: stack.SimWorkspaces(cfg, func(config.Workspace) bool { return true }), ProcessingDelay: delay, Faults: faults, HTTPClient: fetch, Logger: log,
			})
			if err != nil {
				return err
			}
			defer sim.Close()
			l, err := net.Listen("tcp", cmp.Or(addr, cfg.SimAddr))
			if err != nil {
				return err
			}
			log.Info("simulator listening", zap.String("addr", l.Addr().String()))
			return stack.ServeHTTP(cmd.Context(), httpapi.NewHTTPServer("", sim.Handler()), l, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "sim-addr", "", "listen address (env SEGQ_SIM_ADDR, default :8090)")
	f.DurationVar(&delay, "processing-delay", 2*time.Second, "time from accepting a request to its callback")
	f.Float64Var(&faults.Submit5xx, "fail-submit", 0, "share of submissions answered 500")
	f.Float64Var(&faults.Callback5xx, "fail-callbacks", 0, "share of callbacks reporting status 500")
	f.Float64Var(&faults.DuplicateCallback, "duplicate-callbacks", 0, "share of callbacks sent twice")
	f.Float64Var(&faults.LostCallback, "lose-callbacks", 0, "share of callbacks never sent")
	f.DurationVar(&faults.CallbackDelay, "callback-delay", 0, "extra delay before each callback")
	return cmd
}
