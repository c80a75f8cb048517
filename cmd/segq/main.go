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
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "segq:", err)
	}
	return codeOf(err)
}

// codeOf is the exit status for err, without printing anything.
func codeOf(err error) int {
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return codeUsage
}
