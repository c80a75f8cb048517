package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// defaultProbeURL is the API's liveness endpoint inside its container.
const defaultProbeURL = "http://127.0.0.1:8080/healthz"

// newProbeCmd is the container health check: the distroless image has no
// shell, curl or wget, so the binary checks itself. Hidden: it is for
// Dockerfile HEALTHCHECK and compose, not for people.
func newProbeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "probe [URL]",
		Short:  "Exit 0 when URL (default " + defaultProbeURL + ") answers 2xx",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			url := defaultProbeURL
			if len(args) == 1 {
				url = args[0]
			}
			return probe(cmd.Context(), url)
		},
	}
}

func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &exitError{code: codeUsage, err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &exitError{code: 1, err: fmt.Errorf("%s: %s", url, resp.Status)}
	}
	return nil
}
