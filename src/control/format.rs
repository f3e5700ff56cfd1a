//! Text for people: the socket table as `ss -tuna` prints it, and the counters
//! grouped by layer. `tunstack ss`, `tunstack stats` and the HTTP service's
//! `/sockets` page all print through here.

use std::fmt::Write;

use crate::counters::Counters;
use crate::stack::SocketRow;

const HEADER: [&str; 9] =
    ["Netid", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Service", "Drops", "PMTU"];

/// `queued/bound`; UDP adds its datagram count and bound (`dg`).
fn recv_cell(row: &SocketRow) -> String {
    match row.datagrams {
        Some((n, max)) => format!("{}/{} ({n}/{max} dg)", row.recv_q, row.recv_q_max),
        None => format!("{}/{}", row.recv_q, row.recv_q_max),
    }
}

/// `queued/bound`, or `-` for a socket with no send queue (listeners, UDP).
fn send_cell(row: &SocketRow) -> String {
    if row.send_q_max == 0 {
        "-".to_string()
    } else {
        format!("{}/{}", row.send_q, row.send_q_max)
    }
}

fn cells(row: &SocketRow) -> [String; 9] {
    [
        row.netid.to_string(),
        row.state.clone(),
        recv_cell(row),
        send_cell(row),
        row.local.to_string(),
        row.peer
            .map_or_else(|| if row.local.is_ipv6() { "[::]:*" } else { "0.0.0.0:*" }.to_string(), |p| p.to_string()),
        row.service.clone().unwrap_or_else(|| "-".to_string()),
        row.drops.to_string(),
        row.path_mtu.map_or_else(|| "-".to_string(), |m| m.to_string()),
    ]
}

/// The table, one line per socket under a header, columns aligned.
pub fn socket_table(rows: &[SocketRow]) -> String {
    let lines: Vec<[String; 9]> = std::iter::once(HEADER.map(str::to_string)).chain(rows.iter().map(cells)).collect();
    let mut widths = [0usize; 9];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (cell, width) in line.iter().zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// Every counter, `name value`, under a heading per layer (`ip:`, `icmp:`,
/// `udp:`, `tcp:` — the name's first word), in the order of
/// [`Counters`]'s declaration.
pub fn stats(counters: &Counters) -> String {
    let width = counters.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    let mut layer = "";
    for (name, value) in counters.iter() {
        let prefix = name.split('_').next().unwrap_or(name);
        if prefix != layer {
            layer = prefix;
            let _ = writeln!(out, "{layer}:");
        }
        let _ = writeln!(out, "  {name:<width$}  {value}");
    }
    out
}

/// The HTTP service's `/sockets` page: the table, then the counters.
pub fn sockets_page(rows: &[SocketRow], counters: &Counters) -> String {
    format!(
        "tunstack: every socket and counter of this stack, as `tunstack ss` and `tunstack stats` print them.\n\
         Reload to watch connections come and go; this request's own connection is listed, ESTABLISHED.\n\n\
         {}\n{}",
        socket_table(rows),
        stats(counters)
    )
}
