package main

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

// A one-request model for porcupine: a request is created pending, then at
// most one of approve, deny, cancel or expire ends it; a decision needs it
// pending, so it never has two and none lands on a cancelled or expired
// request. The grant an approval leads to ends (grant_end: the replicas'
// grants tick at its expiry) at most once, and only an approved request's.
// A final read checks the stored status, decision count and grant ends.

type reqOp struct {
	Request string
	Op      string // create, approve, deny, cancel, expire, grant_end, read
}

const (
	outOK      = "ok"
	outRefused = "refused"
	// outUnknown: the caller cannot know whether it took effect (a Slack
	// click is acked before it is handled; an error may follow a commit).
	// Its return is at the end of time, so it may be placed after the read.
	outUnknown = "unknown"
)

type reqState struct {
	Status    string // "" before create
	Decisions int
	GrantEnds int
}

type readOut struct {
	Status    string
	Decisions int
	GrantEnds int
}

var finalStatus = map[string]string{"approve": string(accessbot.StatusApproved), "deny": string(accessbot.StatusDenied),
	"cancel": string(accessbot.StatusCancelled), "expire": string(accessbot.StatusExpired)}

var requestModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			id := op.Input.(reqOp).Request
			if _, ok := by[id]; !ok {
				order = append(order, id)
			}
			by[id] = append(by[id], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, id := range order {
			out = append(out, by[id])
		}
		return out
	},
	Init: func() interface{} { return reqState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s, in := state.(reqState), input.(reqOp)
		pending := s.Status == string(accessbot.StatusPending)
		switch in.Op {
		case "create":
			return s.Status == "" && output != outRefused, reqState{Status: string(accessbot.StatusPending)}
		case "read":
			o := output.(readOut)
			return o == readOut(s), s
		case "grant_end":
			can := s.Status == string(accessbot.StatusApproved) && s.GrantEnds == 0
			next := s
			if can {
				next.GrantEnds++
			}
			switch output {
			case outOK:
				return can, next
			case outRefused:
				return !can, s
			default:
				return s.Status != "", next
			}
		}
		next := s
		if pending {
			next.Status = finalStatus[in.Op]
			if in.Op == "approve" || in.Op == "deny" {
				next.Decisions++
			}
		}
		switch output {
		case outOK:
			return pending, next
		case outRefused:
			return !pending && s.Status != "", s
		default: // unknown: it took effect if it could
			return s.Status != "", next
		}
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(reqOp)
		return fmt.Sprintf("%s %s -> %v", in.Op, in.Request, output)
	},
}

// history records request operations with their invoke and return times.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// call runs fn as op on request id by client, recording its outcome.
func (h *history) call(client int, id, op string, fn func() error) error {
	call := h.now()
	err := fn()
	ret := h.now()
	out := outcomeOf(err)
	if out == outUnknown {
		ret = math.MaxInt64
	}
	h.add(porcupine.Operation{ClientId: client, Input: reqOp{id, op}, Call: call, Output: out, Return: ret})
	return err
}

// maybe records an operation whose effect the test cannot observe: from
// at on, possibly never.
func (h *history) maybe(client int, id, op string, at time.Time) {
	h.add(porcupine.Operation{ClientId: client, Input: reqOp{id, op}, Call: int64(at.Sub(h.start)), Output: outUnknown, Return: math.MaxInt64})
}

// rename gives the operations recorded under a placeholder id (a create,
// before its id is known) their request's id.
func (h *history) rename(from, to string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.ops {
		if in := h.ops[i].Input.(reqOp); in.Request == from {
			h.ops[i].Input = reqOp{to, in.Op}
		}
	}
}

// read records a read of a request's final state, after everything else.
func (h *history) read(id, status string, decisions, grantEnds int) {
	now := h.now()
	h.add(porcupine.Operation{ClientId: 9, Input: reqOp{id, "read"}, Call: now, Output: readOut{status, decisions, grantEnds}, Return: now + 1})
}

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

func (h *history) check(t *testing.T) porcupine.CheckResult {
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(requestModel, ops, time.Minute)
	if res != porcupine.Ok {
		for _, part := range info.PartialLinearizations() {
			if len(part) > 0 {
				t.Logf("partial linearization: %v", part)
				break
			}
		}
	}
	return res
}

func outcomeOf(err error) string {
	var already *requests.AlreadyDecidedError
	switch {
	case err == nil:
		return outOK
	case errors.As(err, &already):
		return outRefused
	}
	return outUnknown
}

// TestRequestModel: the checker accepts one decision and one grant end, and
// rejects two decisions, a decision on a cancelled request, an approval the
// store does not show, a grant ended twice and a grant end of a request
// never approved, so the replica test's check can fail.
func TestRequestModel(t *testing.T) {
	op := func(client int, o string, call, ret int64, out interface{}) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: reqOp{"r1", o}, Call: call, Output: out, Return: ret}
	}
	create := op(0, "create", 0, 1, outOK)
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"one approval, one refused deny", []porcupine.Operation{create, op(1, "approve", 2, 5, outOK), op(2, "deny", 3, 6, outRefused),
			op(0, "read", 7, 8, readOut{"approved", 1, 0})}, porcupine.Ok},
		{"racing clicks of unknown outcome", []porcupine.Operation{create, op(1, "approve", 2, math.MaxInt64, outUnknown),
			op(2, "approve", 2, math.MaxInt64, outUnknown), op(3, "cancel", 3, 4, outRefused), op(0, "read", 7, 8, readOut{"approved", 1, 0})}, porcupine.Ok},
		{"expired before anyone acted", []porcupine.Operation{create, op(1, "expire", 2, math.MaxInt64, outUnknown),
			op(2, "approve", 3, 4, outRefused), op(0, "read", 7, 8, readOut{"expired", 0, 0})}, porcupine.Ok},
		{"two decisions", []porcupine.Operation{create, op(1, "approve", 2, 5, outOK), op(2, "deny", 3, 6, outOK)}, porcupine.Illegal},
		{"two stored", []porcupine.Operation{create, op(1, "approve", 2, math.MaxInt64, outUnknown),
			op(2, "approve", 2, math.MaxInt64, outUnknown), op(0, "read", 7, 8, readOut{"approved", 2, 0})}, porcupine.Illegal},
		{"decided after a cancel", []porcupine.Operation{create, op(1, "cancel", 2, 3, outOK), op(2, "approve", 4, 5, outOK)}, porcupine.Illegal},
		{"grant ended once", []porcupine.Operation{create, op(1, "approve", 2, 3, outOK), op(2, "grant_end", 4, math.MaxInt64, outUnknown),
			op(3, "grant_end", 4, math.MaxInt64, outUnknown), op(0, "read", 7, 8, readOut{"approved", 1, 1})}, porcupine.Ok},
		{"grant not ended yet", []porcupine.Operation{create, op(1, "approve", 2, 3, outOK), op(2, "grant_end", 4, math.MaxInt64, outUnknown),
			op(0, "read", 7, 8, readOut{"approved", 1, 0})}, porcupine.Ok},
		{"grant ended twice", []porcupine.Operation{create, op(1, "approve", 2, 3, outOK), op(2, "grant_end", 4, math.MaxInt64, outUnknown),
			op(3, "grant_end", 4, math.MaxInt64, outUnknown), op(0, "read", 7, 8, readOut{"approved", 1, 2})}, porcupine.Illegal},
		{"grant end of a cancelled request", []porcupine.Operation{create, op(1, "cancel", 2, 3, outOK), op(2, "grant_end", 4, math.MaxInt64, outUnknown),
			op(0, "read", 7, 8, readOut{"cancelled", 0, 1})}, porcupine.Illegal},
		{"grant ended before the approval", []porcupine.Operation{create, op(2, "grant_end", 1, 2, outOK), op(1, "approve", 3, 4, outOK)}, porcupine.Illegal},
		{"approved but stored expired", []porcupine.Operation{create, op(1, "approve", 2, 3, outOK), op(2, "expire", 2, math.MaxInt64, outUnknown),
			op(0, "read", 7, 8, readOut{"expired", 0, 0})}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(requestModel, tc.ops, 10*time.Second); got != tc.want {
				t.Errorf("check = %s, want %s", got, tc.want)
			}
		})
	}
}
