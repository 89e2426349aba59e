package jobs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/accessbot/accessbot/jobs"
)

func TestAllFinal(t *testing.T) {
	t.Parallel()
	gone := errors.New("gone")
	down := errors.New("down")
	leaf := func(e error) bool { return e == gone }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"final", gone, true},
		{"wrapped final", fmt.Errorf("dm alice: %w", gone), true},
		{"transient", down, false},
		{"all joined final", errors.Join(gone, fmt.Errorf("x: %w", gone)), true},
		{"one joined transient", fmt.Errorf("notify: %w", errors.Join(gone, down)), false},
		{"join with nils", errors.Join(nil, gone), true},
		{"several %w", fmt.Errorf("%w and %w", gone, down), false},
	} {
		if got := jobs.AllFinal(c.err, leaf); got != c.want {
			t.Errorf("%s: AllFinal = %v, want %v", c.name, got, c.want)
		}
	}
}
