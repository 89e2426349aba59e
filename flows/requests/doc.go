// Package requests runs access requests through approval chains: user
// access requests and connection requests (creation, assignment, deletion),
// approvals and denials, cancellation, reminders, escalation and expiry. It
// knows nothing of Slack: the Slack layer calls the Service and implements
// Notifier; provisioning implements Provisioner.
//
// # Wiring
//
//	svc := requests.New(st, notifier, provisioner, clock, requests.DefaultPolicy(), log,
//		requests.WithEnqueuer(enq))
//
// A nil Notifier is NopNotifier, a nil Provisioner is RecordOnly (the request
// stays "approved", nothing else happens), a nil clock is time.Now. `run`
// passes handlers.Fulfilment, which asks the application's owners by DM to
// grant an approved request by hand, until a provisioning engine replaces it. Policy
// holds approvals.reminder_after, escalate_after and expire_after.
//
// # Jobs
//
// Every Notifier call and every Provisioner.Provision is a Job (ids only),
// added in the transaction of the state change that causes it. With
// WithEnqueuer (production: package requestjobs, on River) the jobs are
// inserted in that transaction, so they exist exactly when it commits and
// survive a crash or a Slack outage; a worker calls RunJob, which re-reads
// the request and retries on error. Without an Enqueuer (tests, CLIs) the
// jobs run in process right after the commit and errors are only logged.
//
// # Creating a request
//
// Build one Input: UserAccess, ConnectionCreate, ConnectionAssign or
// ConnectionDelete. Prepare(ctx, in) validates it and resolves its approval
// chain without storing anything, for the preview view; Create(ctx, in)
// validates again and stores it (request + "request.created" audit entry in
// one transaction) with the job for Notifier.RequestCreated. That job, once
// the confirmation is sent (or given up on, GiveUpJob), adds the job for
// Notifier.ApprovalNeeded of level 0: River works jobs concurrently, and
// level 1's news goes in the confirmation's thread, so it must come second.
//
// Errors to map for the user:
//   - *FieldErrors: Fields maps an input field (FieldApp, FieldConnection,
//     FieldTarget, FieldDuration, FieldJustification, FieldName, FieldType,
//     FieldDescription, FieldGrants, FieldRevokes, FieldReason, or
//     FieldPayloadPrefix+schema field name) to a plain-words message, for
//     `response_action: errors`.
//   - *DuplicateRequestError: an open request asks for the same thing; ExistingID names it.
//   - ErrNoChain / ErrNoApprovers: nobody is configured, or left, to approve.
//   - ErrForbidden: the requester is unknown or not active.
//
// Stored payloads: user access has none; ConnectionCreatePayload
// {"name","type","description","fields":{...}}; AssignmentPayload exactly
// {"grants":[{"type","source_name"}],"revokes":[...]}; ConnectionDeletePayload
// {"name","type"} (what is to be deleted, so messages can still name it).
//
// # Approval chains
//
// SelectChain picks the chain for (application, connection), else the
// application's, else the tenant default (no application, no connection).
// Each level's approvers (owners, primary_owner, secondary_owner, manager,
// named users) are resolved to people when the request is created, and that
// snapshot is stored in AccessRequest.Levels as ApproverUser entries. We
// snapshot so an in-flight request keeps going to the people it was shown
// to: changing an application's owners, a manager or a chain in the tenant
// file affects new requests only. Resolution skips terminated users, replaces
// an approver whose DelegateUntil is in the future by their delegate, and
// never includes the requester; a level left empty falls back to the tenant
// admins (rule any), and creation fails with ErrNoApprovers when there is no
// admin either. "manager" means the target user's manager for user access,
// and the requester's manager for connection requests.
//
// # Deciding
//
// Decide(ctx, DecideInput{TenantID, RequestID, ActorID, Level, Decision,
// Reason}) re-reads everything from the store; only ids come from the
// button. Level is the level the actor was shown; if the request has moved
// on, or is no longer pending, the answer is *AlreadyDecidedError {Status,
// Decision, ByUserID, At}, e.g. "already approved by X". ErrNotApprover,
// ErrSelfApproval, and *FieldErrors (deny without reason) are refusals;
// accessbot.ErrNotFound covers unknown ids and ids of another tenant.
// Rule "any": the first approval closes the level. Rule "all": every approver
// must approve. Any deny denies the request. Jobs, in the same transaction:
// Notifier.LevelDecided (every decision, so each copy of the level's message
// can be updated), then ApprovalNeeded for the next level, or
// Provisioner.Provision and Notifier.RequestFinished when finished.
//
// Cancel lets the requester withdraw a pending request.
//
// # Time
//
// Tick(ctx, now), called by the scheduler, reminds once, escalates to the
// tenant admins (who join the current level; any one may then decide) and
// expires requests, each step once even when several replicas tick at once.
//
// # Queries
//
// MyRequests, PendingFor, Get, and History (admins only) feed the App Home,
// `/access mine`, `/access approvals` and `/access audit`.
//
// # Concurrency
//
// Every read-modify-write of a request (decide, cancel, each Tick step) runs
// in one store transaction that first reads the request with
// store.Queries.GetRequestForUpdate (a row lock on PostgreSQL; SQLite's
// IMMEDIATE transactions already serialize), then writes with the
// conditional TransitionRequest. AddDecision's uniqueness per (request,
// level, approver) backs this up. Notifications go out only after commit,
// from jobs enqueued in the same transaction.
//
// Every state change appends an audit entry (ObjectType AuditObject, actions
// ActionCreated ... ActionExpired) with before/after state, in the same
// transaction as the change.
package requests
