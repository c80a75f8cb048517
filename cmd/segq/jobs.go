package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segq/segq/queue"
	"github.com/spf13/cobra"
)

func newJobsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "List, show, cancel and resolve jobs"}
	cmd.AddCommand(newJobsListCmd(g), newJobsShowCmd(g), newJobsCancelCmd(g), newJobsResolveCmd(g))
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

func newJobsResolveCmd(g *globalFlags) *cobra.Command {
	var (
		r      queue.Resolution
		state  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "resolve ID --state succeeded|failed --reason TEXT [--cs-id ID]",
		Short: "Settle an unknown or overdue job after looking it up in MoEngage (exit 1 if it is neither)",
		Long: "Settle a job whose outcome segq cannot know (unknown) or never heard (overdue), as a\n" +
			"callback would: a create's name is released and the producer's callback_url is told.\n" +
			"Look the segment up in MoEngage first (docs/operations.md §6).",
		Args: cobra.ExactArgs(1),
		RunE: withClient(g, func(cmd *cobra.Command, args []string, c *queue.Client) error {
			r.State = queue.State(state)
			j, err := c.Resolve(cmd.Context(), args[0], r)
			var fe *queue.FieldError
			switch {
			case errors.As(err, &fe):
				return usageError(fmt.Errorf("--%s: %s", strings.ReplaceAll(fe.Field, "_", "-"), fe.Message))
			case err != nil:
				return &exitError{code: codeFailed, err: err}
			}
			if !asJSON {
				cmd.Printf("job %s resolved as %s\n", j.ID, j.State)
				return nil
			}
			return printJob(cmd.OutOrStdout(), j, true)
		}),
	}
	cmd.Flags().StringVar(&state, "state", "", "the outcome: succeeded or failed")
	cmd.Flags().StringVar(&r.Reason, "reason", "", "what MoEngage showed (required; kept in the timeline)")
	cmd.Flags().StringVar(&r.CSID, "cs-id", "", "the segment's id in MoEngage, for a create that succeeded")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return cmd
}
