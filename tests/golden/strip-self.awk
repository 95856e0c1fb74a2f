# Drops the agent's own families (hakari_*, process_*) from a text exposition: they describe the
# process (build, timings, RSS), not the fixture, and vary from run to run.
{
    name = ($1 == "#") ? $3 : $1
    sub(/[{ ].*/, "", name)
    if (name ~ /^(hakari|process)_/)
        next
    print
}
