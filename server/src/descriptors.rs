//! Open files: every connection holds at least one, and a process's soft limit is often 1,024 (a service
//! manager's default) while the hard limit allows far more. A server that runs out refuses nobody
//! clearly: `accept` fails and newcomers time out. So at start the soft limit is raised to the hard one,
//! and a connection limit that would not fit is lowered to what does, saying so.

/// Descriptors kept for everything that is not a connection: listeners, the database, logs, the runtime.
pub const RESERVE: u64 = 64;

/// Raises the soft open-files limit to the hard one; the limit now in force, if the system has one.
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-files limit");
            None
        }
    }
}

/// How many connections fit in `limit` descriptors when each holds `per_connection`, besides [`RESERVE`].
pub fn connections_that_fit(limit: u64, per_connection: u64) -> usize {
    let fit = limit.saturating_sub(RESERVE) / per_connection.max(1);
    usize::try_from(fit).unwrap_or(usize::MAX).max(1)
}

/// `wanted` connections, or fewer if they would not fit in the open-files limit (raised first), with a
/// warning naming `flag`.
pub fn fit_connections(wanted: usize, per_connection: u64, flag: &str) -> usize {
    let Some(limit) = raise_limit() else { return wanted };
    let fit = connections_that_fit(limit, per_connection);
    if wanted > fit {
        tracing::warn!(
            open_files = limit,
            per_connection,
            "{flag} lowered from {wanted} to {fit}: more would not fit in the open-files limit (raise it with \
             `ulimit -n` or LimitNOFILE=)"
        );
        fit
    } else {
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_beside_the_reserve() {
        assert_eq!(connections_that_fit(1024, 3), 320);
        assert_eq!(connections_that_fit(1_048_576, 1), 1_048_512);
        assert_eq!(connections_that_fit(10, 3), 1, "always at least one");
    }
}
