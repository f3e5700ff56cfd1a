//! TCP options shared by `serve` and `connect`: SYN cookies, keepalive, the user
//! timeout, path MTU discovery and congestion control — each a field of
//! `TcpConfig`.

use std::time::Duration;

use clap::{Args, ValueEnum};

use tunstack::congestion::CongestionAlgorithm;
use tunstack::{Keepalive, SynCookies, TcpConfig};

/// When a listener answers SYNs with cookies (RFC 4987).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieMode {
    Off,
    WhenFull,
    Always,
}

#[derive(Args, Debug, Clone)]
pub struct TcpArgs {
    /// SYN cookies (RFC 4987): when the half-open queue is full (the default, like
    /// Linux), always, or never.
    #[arg(long, value_enum, default_value_t = CookieMode::WhenFull)]
    pub syn_cookies: CookieMode,
    /// Keepalive on every connection (RFC 1122 4.2.3.6): IDLE,INTERVAL,COUNT in
    /// seconds and probes, as Linux's tcp_keepalive_time/_intvl/_probes, e.g.
    /// `--keepalive 7200,75,9`. Off unless given.
    #[arg(long, value_name = "IDLE,INTERVAL,COUNT", value_parser = parse_keepalive)]
    pub keepalive: Option<Keepalive>,
    /// Give up on a connection whose sent data stays unacknowledged this many
    /// milliseconds (RFC 5482, Linux's TCP_USER_TIMEOUT). Off unless given.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub user_timeout_ms: Option<u64>,
    /// Turn path MTU discovery (RFC 1191: Don't Fragment on TCP segments, MSS
    /// lowered by ICMP "fragmentation needed") and black-hole detection off.
    #[arg(long)]
    pub no_pmtu_discovery: bool,
    /// Congestion control: cubic (RFC 9438 with HyStart++, the default, as in
    /// Linux) or newreno (RFC 5681/6582).
    #[arg(long = "cc", default_value = "cubic", value_name = "NAME")]
    pub congestion: CongestionAlgorithm,
}

fn parse_keepalive(s: &str) -> Result<Keepalive, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let [idle, interval, count] = parts[..] else {
        return Err(format!("{s}: expected IDLE,INTERVAL,COUNT, e.g. 7200,75,9"));
    };
    let secs = |v: &str, what: &str| -> Result<Duration, String> {
        match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(format!("{what} {v:?} is not a whole number of seconds above 0")),
        }
    };
    let probes = match count.trim().parse::<u32>() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("COUNT {count:?} is not a number of probes above 0")),
    };
    Ok(Keepalive { enabled: true, idle: secs(idle, "IDLE")?, interval: secs(interval, "INTERVAL")?, probes })
}

impl TcpArgs {
    /// Set these options in `tcp`.
    pub fn apply(&self, tcp: &mut TcpConfig) {
        tcp.syn_cookies = match self.syn_cookies {
            CookieMode::Off => SynCookies::Off,
            CookieMode::WhenFull => SynCookies::WhenFull,
            CookieMode::Always => SynCookies::Always,
        };
        if let Some(keepalive) = self.keepalive {
            tcp.keepalive = keepalive;
        }
        tcp.user_timeout = self.user_timeout_ms.map(Duration::from_millis);
        tcp.path_mtu_discovery = !self.no_pmtu_discovery;
        tcp.congestion = self.congestion.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_takes_three_positive_numbers() {
        let k = parse_keepalive("2,1,3").expect("valid");
        assert_eq!(
            (k.enabled, k.idle, k.interval, k.probes),
            (true, Duration::from_secs(2), Duration::from_secs(1), 3)
        );
        for bad in ["2,1", "2,1,3,4", "0,1,3", "2,x,3", "2,1,0", ""] {
            assert!(parse_keepalive(bad).is_err(), "{bad:?}");
        }
    }
}
