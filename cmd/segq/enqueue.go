package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segq/segq/queue"
	"github.com/spf13/cobra"
)

// exitError carries a process exit code with an error (see main.exitCode).
// codeFailed is a job that ended other than succeeded; codeUsage is bad
// input or an unreachable store.
const (
	codeFailed = 1
	codeUsage  = 2
)

func newEnqueueCmd(g *globalFlags) *cobra.Command {
	var (
		req    queue.Request
		key    string
		wait   bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "enqueue",
		Short: "Enqueue a segment job",
		Long: `Enqueues one job (the fields of POST /v1/jobs as flags) and prints it.
With --wait, follows the job until it ends: exit 0 when it succeeded, 1 when
it failed or was cancelled, 2 for bad input or an unreachable Redis.`,
		Args: cobra.NoArgs,
		RunE: withClient(g, func(cmd *cobra.Command, _ []string, c *queue.Client) error {
			j, _, err := c.Enqueue(cmd.Context(), req, queue.EnqueueOptions{IdempotencyKey: key})
			if err != nil {
				return &exitError{code: codeUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if wait {
				if j, err = follow(cmd.Context(), c, j.ID, out, asJSON); err != nil {
					return err
				}
			}
			if err := printJob(out, j, asJSON); err != nil {
				return err
			}
			if wait && j.State != queue.StateSucceeded {
				return &exitError{code: codeFailed, err: fmt.Errorf("job %s %s: %s", j.ID, j.State, j.Error)}
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Workspace, "workspace", "", "MoEngage workspace id (required)")
	f.StringVar((*string)(&req.Op), "op", "create", "create, add, remove, replace, archive or unarchive")
	f.StringVar(&req.Name, "name", "", "segment name")
	f.StringVar(&req.CSID, "cs-id", "", "segment id (add, remove, replace, archive, unarchive)")
	f.StringVar(&req.AttributeName, "attribute-name", "", "user attribute the file's values identify")
	f.StringVar(&req.AttributeType, "attribute-type", "string", "string or double")
	f.StringVar(&req.FileURL, "file-url", "", "URL of the single-column CSV file")
	f.IntVar(&req.ExpiryTime, "expiry", 0, "segment expiry in days (create)")
	f.StringVar(&req.CallbackURL, "callback-url", "", "your URL to receive the finished job")
	f.StringSliceVar(&req.Emails, "email", nil, "e-mail to notify (repeatable)")
	f.StringVar(&req.Priority, "priority", "default", "high, default or low")
	f.StringVar(&key, "idempotency-key", "", "makes retrying this command safe")
	f.BoolVar(&wait, "wait", false, "follow the job until it ends")
	f.BoolVar(&asJSON, "json", false, "print the job as JSON")
	return cmd
}

// follow polls the job, printing a live line (state and ETA countdown)
// unless asJSON, until the job ends or ctx is done.
func follow(ctx context.Context, c *queue.Client, id string, out io.Writer, asJSON bool) (*queue.Job, error) {
	var j *queue.Job
	err := poll(ctx, 500*time.Millisecond, func() (bool, error) {
		var err error
		if j, err = c.Get(ctx, id); err != nil {
			return false, &exitError{code: codeUsage, err: err}
		}
		if !asJSON {
			fmt.Fprintf(out, "\r\033[K%s", liveLine(j, time.Now()))
			if j.State.Terminal() {
				fmt.Fprintln(out)
			}
		}
		return j.State.Terminal(), nil
	})
	if errors.Is(err, context.Canceled) {
		return nil, &exitError{code: codeFailed, err: errors.New("interrupted; the job goes on")}
	}
	return j, err
}

func liveLine(j *queue.Job, now time.Time) string {
	s := fmt.Sprintf("%s  %-10s attempt %d", j.ID, j.State, j.Attempts)
	if j.ETA != nil {
		s += fmt.Sprintf("  eta %s (in %s)", j.ETA.Format(time.RFC3339), max(0, j.ETA.Sub(now)).Round(time.Second))
	}
	return s
}

func printJob(out io.Writer, j *queue.Job, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	}
	fmt.Fprintf(out, "id:         %s\nworkspace:  %s\nop:         %s\nname:       %s\nstate:      %s\nattempts:   %d\n",
		j.ID, j.Workspace, j.Op, j.Name, j.State, j.Attempts)
	if j.CSID != "" {
		fmt.Fprintf(out, "cs_id:      %s\n", j.CSID)
	}
	if j.ETA != nil {
		fmt.Fprintf(out, "eta:        %s\n", j.ETA.Format(time.RFC3339))
	}
	if j.UserCount != nil {
		fmt.Fprintf(out, "user_count: %d\n", *j.UserCount)
	}
	if j.Error != "" {
		fmt.Fprintf(out, "error:      %s\n", j.Error)
	}
	fmt.Fprintln(out, "timeline:")
	for _, e := range j.Timeline {
		fmt.Fprintf(out, "  %s  %-10s %s\n", e.At.Format("2006-01-02T15:04:05.000Z"), e.State, e.Detail)
	}
	return nil
}

// withClient wraps a command's run function with a queue client
// connected from the config.
func withClient(g *globalFlags, run func(cmd *cobra.Command, args []string, c *queue.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := cliApp(g)
		if err != nil {
			return err
		}
		defer a.Close()
		c := queue.NewClient(a.Redis, queue.ClientOptions{Workspaces: a.WorkspaceIDs(), Slots: newLimiter(a)})
		defer c.Close()
		return run(cmd, args, c)
	}
}

// poll calls check every period until it reports done or fails, or ctx
// ends (ctx's error).
func poll(ctx context.Context, every time.Duration, check func() (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
