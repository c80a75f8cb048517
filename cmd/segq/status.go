package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// workspaceStatus is one workspace in segq status.
type workspaceStatus struct {
	httpapi.Limits
	Jobs map[queue.State]int64 `json:"jobs"`
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Limits and queues of every workspace at a glance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := cliApp(g)
			if err != nil {
				return err
			}
			defer a.Close()
			lim := newLimiter(a)
			store := queue.NewStore(a.Redis)
			var all []workspaceStatus
			for _, w := range a.Cfg.Workspaces {
				u, err := lim.Usage(cmd.Context(), w.ID, stack.Limits(w))
				if err != nil {
					return &exitError{code: codeUsage, err: fmt.Errorf("workspace %s: %w", w.ID, err)}
				}
				st := workspaceStatus{Limits: httpapi.LimitsOf(w.ID, u), Jobs: map[queue.State]int64{}}
				for _, s := range queue.States {
					n, err := store.CountInState(cmd.Context(), w.ID, s)
					if err != nil {
						return &exitError{code: codeUsage, err: err}
					}
					if n > 0 {
						st.Jobs[s] = n
					}
				}
				all = append(all, st)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(all)
			}
			return printStatus(cmd.OutOrStdout(), all)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(out io.Writer, all []workspaceStatus) error {
	for _, st := range all {
		fmt.Fprintf(out, "workspace %s\n", st.Workspace)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, w := range st.Windows {
			fmt.Fprintf(tw, "  ops/%s\t%s\t%d/%d\n", w.Window, bar(w.Used, w.Max), w.Used, w.Max)
		}
		fmt.Fprintf(tw, "  users/day\t%s\t%d/%d\n", bar(st.UsersLastDay, st.UsersLastDayLimit), st.UsersLastDay, st.UsersLastDayLimit)
		fmt.Fprintf(tw, "  active segments\t%s\t%d/%d\n", bar(st.ActiveSegments, st.ActiveSegmentsLimit), st.ActiveSegments, st.ActiveSegmentsLimit)
		_ = tw.Flush()
		if st.NextSlotAt != nil {
			fmt.Fprintf(out, "  next free slot: %s (in %s)\n", st.NextSlotAt.Format(time.RFC3339), max(0, time.Until(st.NextSlotAt.Time)).Round(time.Second))
		}
		if st.BlockedUntil != nil {
			fmt.Fprintf(out, "  BLOCKED until %s\n", st.BlockedUntil.Format(time.RFC3339))
		}
		fmt.Fprintf(out, "  reserved %d, pending %d\n  jobs:", st.Reserved, st.Pending)
		for _, s := range queue.States {
			if n := st.Jobs[s]; n > 0 {
				fmt.Fprintf(out, " %s=%d", s, n)
			}
		}
		fmt.Fprintln(out)
	}
	return nil
}

// bar draws used/max as a 20-cell bar.
func bar(used, limit int64) string {
	const width = 20
	n := 0
	if limit > 0 {
		n = int(min(used, limit) * width / limit)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// cliApp is newApp for short-lived commands: quiet logs.
func cliApp(g *globalFlags) (*stack.Stack, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, &exitError{code: codeUsage, err: err}
	}
	a, err := stack.New(cfg, nil)
	if err != nil {
		return nil, &exitError{code: codeUsage, err: err}
	}
	a.Log = zap.NewNop()
	return a, nil
}

func newLimiter(a *stack.Stack) *limiter.Limiter { return limiter.New(a.Redis) }
