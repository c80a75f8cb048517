package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/segq/segq/queue"
	"github.com/spf13/cobra"
)

func newJobsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "List, show and cancel jobs"}
	cmd.AddCommand(newJobsListCmd(g), newJobsShowCmd(g), newJobsCancelCmd(g))
	return cmd
}

func newJobsListCmd(g *globalFlags) *cobra.Command {
	var (
		opt    queue.ListOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: withClient(g, func(cmd *cobra.Command, _ []string, c *queue.Client) error {
			page, err := c.List(cmd.Context(), opt)
			if err != nil {
				return &exitError{code: codeUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(page)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKSPACE\tOP\tNAME\tSTATE\tATTEMPTS\tETA\tUPDATED")
			for _, j := range page.Jobs {
				eta := "-"
				if j.ETA != nil {
					eta = j.ETA.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Workspace, j.Op, j.Name, j.State, j.Attempts, eta, j.UpdatedAt.Format(time.RFC3339))
			}
			if page.NextCursor != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
			}
			return tw.Flush()
		}),
	}
	f := cmd.Flags()
	f.StringVar((*string)(&opt.State), "state", "", "only jobs in this state")
	f.StringVar(&opt.Workspace, "workspace", "", "only jobs of this workspace")
	f.IntVar(&opt.Limit, "limit", 50, "page size (at most 500)")
	f.StringVar(&opt.Cursor, "cursor", "", "continue after this job id")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newJobsShowCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its timeline",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(g, func(cmd *cobra.Command, args []string, c *queue.Client) error {
			j, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: codeFailed, err: err}
			}
			return printJob(cmd.OutOrStdout(), j, asJSON)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newJobsCancelCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job not yet submitted (exit 1 if it already was)",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(g, func(cmd *cobra.Command, args []string, c *queue.Client) error {
			j, err := c.Cancel(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: codeFailed, err: err}
			}
			cmd.Printf("job %s cancelled\n", j.ID)
			return nil
		}),
	}
}
