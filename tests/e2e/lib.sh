# lib.sh — shared by the e2e scripts (sourced): the model lookup (exit 77 = skip without it),
# the annotator's test environment, fail() and wait_log(). The script sets $out (artifacts),
# $log (the annotator's log) and $app_pid (the running annotator) before using them.

# e2e_model: STABLESAM_MODEL or the fetch-model cache; skips the test when it is absent.
e2e_model() {
    model=${STABLESAM_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/stablesam/mobilesam.safetensors}
    if [ ! -f "$model" ]; then
        echo "1..0 # SKIP no model at $model (stablesam fetch-model)"
        exit 77
    fi
    export STABLESAM_MODEL="$model"
}

# e2e_env: renderer, settings and debug log domains the checks read
e2e_env() {
    export GSK_RENDERER=cairo GSETTINGS_BACKEND=memory G_MESSAGES_DEBUG=ssa-window,ssa-worker
    export NO_AT_BRIDGE=1 GTK_A11Y=none
}

# fail N DESC: TAP failure with a screenshot and the log's tail, stops the annotator
fail() {
    echo "not ok $1 - $2"
    import -window root "$out/failure.png" 2>/dev/null
    [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null
    echo "# log:"; sed 's/^/#   /' "$log" 2>/dev/null | tail -40
    exit 1
}

# wait_log PATTERN SECONDS: until the log has a line matching PATTERN (grep -E); fails early
# when the annotator has exited
wait_log() {
    i=0
    while ! grep -qE "$1" "$log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $(($2 * 10)) ] && return 1
        kill -0 "$app_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 0
}
