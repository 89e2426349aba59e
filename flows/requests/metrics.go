package requests

import (
	"errors"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/metrics"
)

// stepOps names the tick steps in accessbot_requests_total.
var stepOps = map[tickStep]string{stepRemind: "remind", stepEscalate: "escalate", stepExpire: "expire"}

// countOp counts one request operation: ok, refused (the request or the
// actor did not allow it: bad input, forbidden, already decided) or error.
func countOp(op string, err error) {
	outcome := "ok"
	var already *AlreadyDecidedError
	var fields *FieldErrors
	switch {
	case err == nil:
	case errors.As(err, &already), errors.As(err, &fields), errors.Is(err, errAlready), errors.Is(err, ErrForbidden),
		errors.Is(err, accessbot.ErrInvalid), errors.Is(err, accessbot.ErrNotFound), errors.Is(err, accessbot.ErrConflict):
		outcome = "refused"
	default:
		outcome = "error"
		metrics.StoreErrors.WithLabelValues("request_" + op).Inc()
	}
	metrics.Requests.WithLabelValues(op, outcome).Inc()
}
