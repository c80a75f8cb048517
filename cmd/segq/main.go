// Command segq is the one binary of segq: the API server, the workers, the
// development stack, the simulator and the producer's CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode maps an error to the process exit status: 0 for success, the
// command's own code when it carries one, 2 for anything else (usage
// errors and failures to run).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "segq:", msg)
		}
		return coded.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "segq:", err)
	return 2
}
