package main

import (
	"context"
	"net"

	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/stack"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API, the callback endpoint and the dashboard",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Addr = addr
			}
			a, err := stack.New(cfg, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			stack.CheckRedis(cmd.Context(), a.Redis, a.Log)
			return runServe(cmd.Context(), a)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (env SEGQ_ADDR, default :8080)")
	return cmd
}

func runServe(ctx context.Context, a *stack.Stack) error {
	dash, err := stack.DashboardConn(a.Cfg.Redis)
	if err != nil {
		return err
	}
	h, closeAPI, err := a.API(dash)
	if err != nil {
		return err
	}
	defer closeAPI()
	l, err := net.Listen("tcp", a.Cfg.Addr)
	if err != nil {
		return err
	}
	a.Log.Info("serving", zap.String("addr", l.Addr().String()))
	return stack.ServeHTTP(ctx, httpapi.NewHTTPServer(a.Cfg.Addr, h), l, a.Log)
}

func newWorkerCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run a worker replica: validate, reserve, submit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			a, err := stack.New(cfg, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			stack.CheckRedis(cmd.Context(), a.Redis, a.Log)
			w, err := a.Worker()
			if err != nil {
				return err
			}
			a.Log.Info("worker running", zap.Strings("workspaces", a.WorkspaceIDs()))
			if cfg.Worker.Addr == "" {
				return w.Run(cmd.Context())
			}
			l, err := net.Listen("tcp", cfg.Worker.Addr)
			if err != nil {
				return err
			}
			a.Log.Info("worker health and metrics", zap.String("addr", l.Addr().String()))
			return runAll(cmd.Context(), w.Run, func(ctx context.Context) error {
				return stack.ServeHTTP(ctx, httpapi.NewHTTPServer(cfg.Worker.Addr, a.OpsHandler()), l, a.Log)
			})
		},
	}
}

// runAll runs fns until the first fails or ctx is done.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, fn := range fns {
		g.Go(func() error { return fn(ctx) })
	}
	return g.Wait()
}
