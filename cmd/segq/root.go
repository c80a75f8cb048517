package main

import (
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// globalFlags are the flags every command takes.
type globalFlags struct {
	configPath string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "segq",
		Short:         "A rate-limit-aware job queue for MoEngage file segments",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", os.Getenv("SEGQ_CONFIG"), "YAML config file (env SEGQ_CONFIG)")
	root.AddCommand(
		newDevCmd(g), newServeCmd(g), newWorkerCmd(g), newSimulateCmd(g),
		newEnqueueCmd(g), newJobsCmd(g), newStatusCmd(g), newCheckCmd(), newVersionCmd(), newProbeCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print segq's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Println("segq " + version)
			return nil
		},
	}
}
