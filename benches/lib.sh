# Shared pieces of the side-by-side benchmark scripts (sourced; needs ROOT, SHARED, STAMP, OUT,
# QUIET_MAX, QUIET_MAX_EACH and a `log` function from the script).

# The first lines of a run's env.json: when, on what machine, with which compiler and commit.
env_json_common() {
  echo "\"date_utc\": \"$STAMP\","
  echo "\"nproc\": $(nproc),"
  echo "\"cpu_model\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\","
  echo "\"kernel\": \"$(uname -r)\","
  echo "\"rustc\": \"$(rustc --version)\","
  echo "\"git\": \"$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- crates examples || echo '+dirty')\","
}

# Records (and waits up to QUIET_MAX s for) an idle machine before a bench -> quiet.jsonl.
quiet() {
  local q; q=$(python3 "$SHARED/quiet.py" --max-wait "$QUIET_MAX"); QUIET_MAX=$QUIET_MAX_EACH
  echo "{\"before\":\"$1\",\"quiet\":$q}" >> "$OUT/quiet.jsonl"
  [[ "$q" == *'"quiet": true'* ]] || log "WARN: machine not quiet before $1: $q"
}

# The aggregate CPU line of /proc/stat as comma-separated counters.
cpu_line() { head -1 /proc/stat | cut -d' ' -f2- | sed 's/^ *//;s/ /,/g'; }
