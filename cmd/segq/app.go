package main

import (
	"os"

	"github.com/segq/segq/internal/config"
)

// loadConfig reads --config and the environment.
func loadConfig(g *globalFlags) (*config.Config, error) {
	return config.Load(g.configPath, os.Getenv)
}
