# Drops the agent's own families (hakari_*, process_*, its node_exporter_build_info) from a text exposition: they describe the
# process (build, timings, RSS), not the fixture, and vary from run to run; also
# node_textfile_mtime_seconds (tests/integration/textfile.sh checks it with set mtimes).
{
    name = ($1 == "#") ? $3 : $1
    sub(/[{ ].*/, "", name)
    if (name ~ /^(hakari|process)_/ || name == "node_exporter_build_info")
        next
    # The textfile collector's mtimes are those of the fixture files: checkout time.
    if (name == "node_textfile_mtime_seconds")
        next
    print
}
