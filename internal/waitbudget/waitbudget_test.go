package waitbudget_test

import (
	"context"
	"testing"
	"time"

	"github.com/accessbot/accessbot/internal/waitbudget"
)

func TestBudget(t *testing.T) {
	ctx := context.Background()
	if _, ok := waitbudget.Of(ctx); ok {
		t.Fatal("a bare context has a budget")
	}
	cases := []struct {
		name  string
		ctx   context.Context
		want  time.Duration
		setOK bool
	}{
		{"set", waitbudget.With(ctx, time.Second), time.Second, true},
		{"a shorter one wins", waitbudget.With(waitbudget.With(ctx, time.Second), 200*time.Millisecond), 200 * time.Millisecond, true},
		{"a longer one does not widen it", waitbudget.With(waitbudget.With(ctx, time.Second), time.Minute), time.Second, true},
		{"kept without cancel", context.WithoutCancel(waitbudget.With(ctx, time.Second)), time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok := waitbudget.Of(c.ctx)
			if d != c.want || ok != c.setOK {
				t.Fatalf("Of = %s, %v; want %s, %v", d, ok, c.want, c.setOK)
			}
		})
	}
}
