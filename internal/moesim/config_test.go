package moesim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moesim"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ws := func(mod func(*moesim.Workspace)) []moesim.Workspace {
		w := moesim.Workspace{ID: "a", APIKey: "k"}
		if mod != nil {
			mod(&w)
		}
		return []moesim.Workspace{w}
	}
	tests := []struct {
		name string
		cfg  moesim.Config
		want string
	}{
		{name: "no workspace", cfg: moesim.Config{}, want: "Workspaces"},
		{name: "no id", cfg: moesim.Config{Workspaces: ws(func(w *moesim.Workspace) { w.ID = "" })}, want: "Workspaces[0].ID"},
		{name: "no key", cfg: moesim.Config{Workspaces: ws(func(w *moesim.Workspace) { w.APIKey = "" })}, want: "Workspaces[0].APIKey"},
		{name: "repeated id", cfg: moesim.Config{Workspaces: append(ws(nil), ws(nil)...)}, want: "repeated"},
		{name: "bad window", cfg: moesim.Config{Workspaces: ws(func(w *moesim.Workspace) {
			w.Limits = moesim.Limits{Ops: []moesim.Window{{Length: time.Hour}}}
		})}, want: "Limits.Ops[0]"},
		{name: "half users window", cfg: moesim.Config{Workspaces: ws(func(w *moesim.Workspace) {
			w.Limits = moesim.Limits{Users: moesim.Window{Max: 3}}
		})}, want: "Limits.Users"},
		{name: "bad share", cfg: moesim.Config{Workspaces: ws(nil), Faults: moesim.Faults{LostCallback: 2}}, want: "Faults.LostCallback"},
		{name: "negative delay", cfg: moesim.Config{Workspaces: ws(nil), ProcessingDelay: -1}, want: "ProcessingDelay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := moesim.New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	l := moesim.DefaultLimits()
	require.Equal(t, []moesim.Window{{Length: time.Hour, Max: 10}, {Length: 24 * time.Hour, Max: 100}}, l.Ops)
	require.Equal(t, moesim.Window{Length: 24 * time.Hour, Max: 2_000_000}, l.Users)
	require.Equal(t, 1000, l.ActiveSegments)
	require.Equal(t, int64(150<<20), l.FileSize)

	// A workspace without limits gets the defaults.
	sim, err := moesim.New(moesim.Config{Workspaces: []moesim.Workspace{{ID: "a", APIKey: "k"}}})
	require.NoError(t, err)
	sim.Close()
}
