//! `tunstack plot CAPTURE [-o FILE.svg]`: draw every TCP connection of a pcap or
//! pcapng capture as a time-sequence graph and a ladder diagram, in one SVG file
//! (see `tunstack::plot`). No TUN, no root: it reads a file and writes one.
//!
//! Prints one line on standard output: what was drawn and where.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;

use super::output_closed;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The capture to draw: pcap or pcapng, from `tunstack serve --pcap`, the
    /// simulator, tcpdump or tshark (raw IP, Ethernet or Linux cooked links).
    #[arg(value_name = "CAPTURE")]
    capture: PathBuf,
    /// Where to write the SVG; `-` for standard output. Default: the capture's
    /// name with `.svg` in place of its extension.
    #[arg(short, long, value_name = "FILE.svg")]
    output: Option<PathBuf>,
}

pub fn run(args: PlotArgs) -> io::Result<()> {
    let name = args.capture.display().to_string();
    let bytes = std::fs::read(&args.capture).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
    let (svg, drawn) = tunstack::plot::render(&bytes).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
    let output = args.output.unwrap_or_else(|| args.capture.with_extension("svg"));
    let mut stdout = io::stdout().lock();
    if output.as_os_str() == "-" {
        return stdout.write_all(svg.as_bytes()).and_then(|()| stdout.flush()).map_err(output_closed);
    }
    std::fs::write(&output, svg).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", output.display())))?;
    writeln!(
        stdout,
        "{}: {} connection{}, {} data segments, {} retransmitted, {} dropped",
        output.display(),
        drawn.connections,
        if drawn.connections == 1 { "" } else { "s" },
        drawn.data_segments,
        drawn.retransmissions,
        drawn.drops
    )
    .map_err(output_closed)
}
