#!/usr/bin/env bash
# Runs every test of the repository. Needs root: the lab and Linux tests build
# their own network namespaces (and clean them up themselves).
#
#   ./test.sh          (as root)
#
# Builds the solution in Release, then runs `dotnet test -c Release --no-build`
# for each test project under tests/ (not tests/LoadBalancer.TestKit, a library).
# Output is echoed and kept in lab/results/test.log (one test-<project>.log each).
# The last line printed is "N passed, N failed" (", N skipped" when any were);
# the exit code is non-zero when anything failed. A project whose run printed
# no summary (a crash, a hang cut by the timeout) counts as one failure, and so
# does a failed build.
#
# Environment: TEST_LOG_DIR (default lab/results), TEST_PROJECT_TIMEOUT seconds
# per test project (default 1800).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT" || exit 1
# shellcheck source-path=SCRIPTDIR
source "$ROOT/lab/lib/common.sh"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Plain console output (the summary lines parsed below), even on a terminal.
export MSBUILDTERMINALLOGGER=off

LOG_DIR="${TEST_LOG_DIR:-$ROOT/lab/results}"
PROJECT_TIMEOUT="${TEST_PROJECT_TIMEOUT:-1800}"
passed=0
failed=0
skipped=0

summary_and_exit() {
    local line="$passed passed, $failed failed"
    (( skipped > 0 )) && line+=", $skipped skipped"
    echo "$line"
    (( failed == 0 ))
    exit $?
}

# Setup problems are failures too, reported with the same closing line.
for step in lab_require_root lab_require_dotnet lab_install_packages; do
    if ! ( "$step" ); then
        echo "setup step $step failed" >&2
        failed=$(( failed + 1 ))
        summary_and_exit
    fi
done

mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/test.log"
: > "$LOG"

echo "== dotnet build -c Release LoadBalancer.sln" | tee -a "$LOG"
dotnet build -c Release "$ROOT/LoadBalancer.sln" -nologo -v q 2>&1 | tee -a "$LOG"
build_rc=${PIPESTATUS[0]}
if (( build_rc != 0 )); then
    echo "build FAILED (exit $build_rc): no tests run" | tee -a "$LOG"
    failed=$(( failed + 1 ))
    summary_and_exit
fi

# Adds up the summary lines of one project's output file into p_passed,
# p_failed, p_skipped; returns 1 if there is none. Understands VSTest's
#   Passed!  - Failed:     0, Passed:    42, Skipped:     0, Total:    42, Duration: ...
#   Failed!  - Failed:     1, Passed:    41, Skipped:     0, Total:    42, Duration: ...
# and the terminal logger's
#   Test summary: total: 42, failed: 1, succeeded: 41, skipped: 0, duration: ...
parse_summary() {
    local file="$1" line found=1
    local re_vstest='(Passed|Failed)!\ +-\ +Failed:\ +([0-9]+),\ +Passed:\ +([0-9]+),\ +Skipped:\ +([0-9]+),\ +Total:\ +([0-9]+)'
    local re_tl='Test summary: total: ([0-9]+), failed: ([0-9]+), succeeded: ([0-9]+), skipped: ([0-9]+)'
    p_passed=0 p_failed=0 p_skipped=0
    while IFS= read -r line; do
        if [[ "$line" =~ $re_vstest ]]; then
            p_failed=$(( p_failed + BASH_REMATCH[2] ))
            p_passed=$(( p_passed + BASH_REMATCH[3] ))
            p_skipped=$(( p_skipped + BASH_REMATCH[4] ))
            found=0
        fi
    done < <(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$file")
    if (( found != 0 )); then
        while IFS= read -r line; do
            if [[ "$line" =~ $re_tl ]]; then
                p_failed=$(( p_failed + BASH_REMATCH[2] ))
                p_passed=$(( p_passed + BASH_REMATCH[3] ))
                p_skipped=$(( p_skipped + BASH_REMATCH[4] ))
                found=0
            fi
        done < <(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$file")
    fi
    return "$found"
}

projects=()
for proj in "$ROOT"/tests/*/*.csproj; do
    [[ -f "$proj" ]] || continue
    [[ "$(basename "$proj" .csproj)" == LoadBalancer.TestKit ]] && continue
    projects+=("$proj")
done
if (( ${#projects[@]} == 0 )); then
    echo "no test projects found under tests/" | tee -a "$LOG"
fi

notes=()
for proj in "${projects[@]}"; do
    name="$(basename "$proj" .csproj)"
    plog="$LOG_DIR/test-$name.log"
    echo "== dotnet test $name" | tee -a "$LOG"
    timeout --foreground -k 30 "$PROJECT_TIMEOUT" \
        dotnet test "$proj" -c Release --no-build --nologo </dev/null 2>&1 | tee "$plog" | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    if parse_summary "$plog"; then
        passed=$(( passed + p_passed ))
        failed=$(( failed + p_failed ))
        skipped=$(( skipped + p_skipped ))
        if (( rc != 0 && p_failed == 0 )); then
            failed=$(( failed + 1 ))
            notes+=("$name: exit $rc although no test reported a failure (counted as 1 failure)")
        fi
    elif (( rc == 0 )) && grep -q "No test is available" "$plog"; then
        notes+=("$name: no tests")
    else
        failed=$(( failed + 1 ))
        if (( rc == 124 || rc == 137 )); then
            notes+=("$name: timed out after ${PROJECT_TIMEOUT}s, no summary (counted as 1 failure)")
        else
            notes+=("$name: exit $rc with no test summary, crashed? (counted as 1 failure)")
        fi
    fi
done

for note in "${notes[@]}"; do
    echo "note: $note" | tee -a "$LOG"
done
echo "logs: $LOG_DIR"
line="$passed passed, $failed failed"
(( skipped > 0 )) && line+=", $skipped skipped"
echo "$line" >> "$LOG"
summary_and_exit
