# server-lib.sh - sourced by the scripts that start test servers (devdb.sh, replica.sh,
# pgbouncer.sh): run a command as the servers' OS user, find a free loopback port.
# SPDX-License-Identifier: MIT
# The sourcing script defines die(); it may redefine port_is_free after sourcing.

# PostgreSQL and PgBouncer refuse root: as root, run as the OS user postgres (created by the
# postgresql-15 package); runuser keeps the environment small and needs no password.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# choose_port [PORT...]: a free port, none of the given ones. Below the kernel's ephemeral
# range: a client socket or its TIME_WAIT holding our port number would stop a restarted
# server from binding it ("Address already in use").
choose_port() {
    local p i low span x taken
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    span=$((low - 20000))
    [ "$span" -ge 1000 ] || span=12000
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % span))
        taken=0
        for x in "$@"; do
            [ "$p" = "$x" ] && taken=1
        done
        if [ "$taken" = 0 ] && port_is_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}
