# Sourced by .ci/run, scripts/test and scripts/fuzz so that a run that stops
# says where. Under `set -euo pipefail` a script ends at the first failing
# command, often with nothing on stderr (an `ls` of a missing directory in a
# pipeline, a `grep -q` that matched nothing): the EXIT trap set here prints
#
#   [NAME] FAILED in step STEP (exit N)
#   [NAME] ended at line L: COMMAND
#
# and keeps the script's exit status. The second line comes when a failing
# command ended it rather than an `exit N`; for a pipeline bash names the
# pipeline's last command, though any of them may have failed.
#
# A SIGINT, SIGTERM or SIGHUP (Ctrl-C, a runner's timeout) stops the
# command steps_run is waiting for, with everything it started, and ends
# the script with 128+signal after
#
#   [NAME] INTERRUPTED by SIGTERM in step STEP (exit 143)
#
# Bash runs a trap only once the foreground command has ended, and a signal
# sent to the script's pid alone never reaches its children: so long
# commands run through steps_run, in a process group of their own that the
# trap stops (TERM, then KILL after 10 s). Nothing outside that group is
# signalled: PostgreSQL and Redis, daemons in sessions of their own, stay up.
#
#   . scripts/steps.bash
#   steps_init NAME            # NAME prefixes every line, e.g. .ci/run
#   step "what runs next"      # logs "[NAME] step: what runs next"
#   steps_run go test ./...    # a program or a function; its exit status
#   at_exit 'rm -rf "$tmp"'    # cleanup, run by the same trap (not `trap … EXIT`, which would replace it)
#
# An `exec` replaces the script and its traps: the program it runs reports
# for itself.

steps_name=
steps_current=
steps_failed_cmd=
steps_failed_line=
steps_cleanup=()
steps_child=  # the process group steps_run waits for
steps_ran=    # the last command steps_run ran
steps_signal= # the signal that ended the script

steps_init() {
	steps_name=$1
	# errtrace: the ERR trap also fires inside functions, so the command that
	# ended the script is the one recorded, not the function that called it.
	set -o errtrace
	trap 'steps_on_err "$BASH_COMMAND" "$LINENO"' ERR
	trap steps_on_exit EXIT
	local sig
	for sig in INT TERM HUP; do
		# shellcheck disable=SC2064 # $sig now, on purpose
		trap "steps_on_signal $sig" "$sig"
	done
}

step() {
	steps_current=$*
	steps_failed_cmd=
	steps_failed_line=
	echo "[$steps_name] step: $steps_current"
}

at_exit() { steps_cleanup+=("$1"); }

# steps_run CMD [ARG...] runs CMD (a program or a function) in a process
# group of its own, stdin from /dev/null, and returns its exit status; a
# signal to the script stops that group at once (steps_on_signal).
steps_run() {
	local steps_rc=0
	steps_ran=$*
	set -m # only so that the next job gets a process group of its own
	"$@" </dev/null &
	steps_child=$!
	set +m
	wait "$steps_child" || steps_rc=$?
	steps_child=
	return "$steps_rc" # steps_on_err names the command instead
}

# steps_on_err COMMAND LINE records the command that failed.
steps_on_err() {
	steps_failed_cmd=$1 steps_failed_line=$2
	if [ "$1" = 'return "$steps_rc"' ]; then
		steps_failed_cmd=$steps_ran
	fi
}

# steps_stop_child sends TERM to steps_run's process group and waits up to
# 10 s for it to end, then sends KILL to what is left.
steps_stop_child() {
	local pg=$steps_child i
	steps_child=
	[ -n "$pg" ] || return 0
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 -- "-$pg" 2>/dev/null || return 0 # gone (an orphan counts until init reaps it)
		sleep 0.1
	done
	echo "[$steps_name] the step's processes outlived SIGTERM by 10 s: sending SIGKILL" >&2
	kill -KILL -- "-$pg" 2>/dev/null || true
}

steps_on_signal() {
	trap '' INT TERM HUP # stopping already: a second Ctrl-C must not cut the cleanup short
	steps_signal=$1
	steps_stop_child
	exit $((128 + $(kill -l "$1")))
}

steps_on_exit() {
	local rc=$? c
	steps_stop_child # an exit while steps_run waits (a trap's own failure) leaves no child behind
	for c in ${steps_cleanup[@]+"${steps_cleanup[@]}"}; do
		eval "$c" || true
	done
	if [ -n "$steps_signal" ]; then
		echo "[$steps_name] INTERRUPTED by SIG$steps_signal in step ${steps_current:-"(before the first step)"} (exit $rc)" >&2
	elif [ "$rc" -ne 0 ]; then
		echo "[$steps_name] FAILED in step ${steps_current:-"(before the first step)"} (exit $rc)" >&2
		if [ -n "$steps_failed_cmd" ]; then
			echo "[$steps_name] ended at line $steps_failed_line: $steps_failed_cmd" >&2
		fi
	fi
	exit "$rc"
}
