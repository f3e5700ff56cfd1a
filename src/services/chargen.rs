//! Character generator (RFC 864).

/// The printable ASCII characters, space to tilde: the chargen alphabet.
const PRINTABLE: &[u8] =
    b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
/// RFC 864's sample pattern: lines of 72 characters, each starting one later.
const LINE: usize = 72;

/// Line number `n` of the classic pattern: 72 characters starting at offset `n`
/// in the printable set, then CR LF.
pub fn chargen_line(n: u64) -> Vec<u8> {
    let start = (n % PRINTABLE.len() as u64) as usize;
    let mut line: Vec<u8> = PRINTABLE.iter().cycle().skip(start).take(LINE).copied().collect();
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_rotate() {
        let a = chargen_line(0);
        let b = chargen_line(1);
        assert_eq!(a.len(), 74);
        assert_eq!(&a[..3], b" !\"");
        assert_eq!(&b[..3], b"!\"#");
        assert!(a[..72].iter().all(|c| (32..127).contains(c)));
        assert_eq!(chargen_line(95), a);
    }
}
