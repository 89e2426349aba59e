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
# pipeline's last command, though any of them may have failed. A signal
# (a runner's timeout) ends the script without these lines.
#
#   . scripts/steps.bash
#   steps_init NAME            # NAME prefixes every line, e.g. .ci/run
#   step "what runs next"      # logs "[NAME] step: what runs next"
#   at_exit 'rm -rf "$tmp"'    # cleanup, run by the same trap (not `trap … EXIT`, which would replace it)
#
# An `exec` replaces the script and its trap: the program it runs reports
# for itself.

steps_name=
steps_current=
steps_failed_cmd=
steps_failed_line=
steps_cleanup=()

steps_init() {
	steps_name=$1
	# errtrace: the ERR trap also fires inside functions, so the command that
	# ended the script is the one recorded, not the function that called it.
	set -o errtrace
	trap 'steps_failed_cmd=$BASH_COMMAND steps_failed_line=$LINENO' ERR
	trap steps_on_exit EXIT
}

step() {
	steps_current=$*
	steps_failed_cmd=
	steps_failed_line=
	echo "[$steps_name] step: $steps_current"
}

at_exit() { steps_cleanup+=("$1"); }

steps_on_exit() {
	local rc=$? c
	for c in ${steps_cleanup[@]+"${steps_cleanup[@]}"}; do
		eval "$c" || true
	done
	if [ "$rc" -ne 0 ]; then
		echo "[$steps_name] FAILED in step ${steps_current:-"(before the first step)"} (exit $rc)" >&2
		if [ -n "$steps_failed_cmd" ]; then
			echo "[$steps_name] ended at line $steps_failed_line: $steps_failed_cmd" >&2
		fi
	fi
	exit "$rc"
}
