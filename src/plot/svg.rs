//! A very small SVG writer: just the elements the plots draw, as text.
//!
//! Every element carries a `class` that says what it shows (`seg`, `ack`,
//! `rwnd`, …): the stylesheet at the top of the document colours them, and a
//! test (or a person with a text editor) can count them. Text is escaped; numbers
//! are written with at most two decimals.

use std::fmt::Write;

/// An SVG document being written, `width` × `height` pixels.
pub struct Svg {
    body: String,
    width: f64,
    height: f64,
}

/// `&`, `<`, `>` and `"` as XML entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate, short: `12.5`, not `12.500000`.
fn n(v: f64) -> String {
    let v = if v.is_finite() { (v * 100.0).round() / 100.0 } else { 0.0 };
    format!("{v}")
}

const STYLE: &str = "text{font-family:DejaVu Sans,Verdana,sans-serif;font-size:12px;fill:#222}\
.title{font-size:15px;font-weight:bold}.axis{stroke:#444;stroke-width:1}.grid{stroke:#ddd;stroke-width:1}\
.seg{stroke:#1f4fbf;stroke-width:2}.seg.rexmit{stroke:#d62728;stroke-width:3}\
.tick{stroke:#1f4fbf;stroke-width:1}.ack{fill:none;stroke:#2ca02c;stroke-width:1.5}\
.rwnd{fill:none;stroke:#bcbd22;stroke-width:1.5;stroke-dasharray:4 3}.sack{stroke:#9467bd;stroke-width:3}\
.drop{stroke:#d62728;stroke-width:2;fill:none}.lane{stroke:#444;stroke-width:2}\
.msg{stroke:#1f4fbf;stroke-width:1.5;fill:none}.msg.drop{stroke:#d62728;stroke-dasharray:5 3}\
.state{font-size:11px;fill:#7f3f00;font-weight:bold}.gap{fill:#888;font-style:italic}\
.legend{font-size:11px}";

impl Svg {
    pub fn new(width: f64, height: f64) -> Svg {
        Svg { body: String::new(), width, height }
    }

    pub fn line(&mut self, class: &str, x1: f64, y1: f64, x2: f64, y2: f64) {
        self.line_with(class, (x1, y1, x2, y2), &[]);
    }

    /// A line that carries `data` attributes (`data-seq="1"`), for whoever reads
    /// the file back.
    pub fn line_with(&mut self, class: &str, (x1, y1, x2, y2): (f64, f64, f64, f64), data: &[(&str, String)]) {
        let attrs: String = data.iter().map(|(k, v)| format!(r#" data-{k}="{}""#, escape(v))).collect();
        let _ = writeln!(
            self.body,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}"{attrs}/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    /// A line through `points`, or nothing for fewer than two.
    pub fn polyline(&mut self, class: &str, points: &[(f64, f64)]) {
        if points.len() < 2 {
            return;
        }
        let list: Vec<String> = points.iter().map(|&(x, y)| format!("{},{}", n(x), n(y))).collect();
        let _ = writeln!(self.body, r#"<polyline class="{class}" points="{}"/>"#, list.join(" "));
    }

    /// An ✕ of half-size `r` centred on (x, y), with a tooltip.
    pub fn cross(&mut self, class: &str, x: f64, y: f64, r: f64, title: &str) {
        let _ = writeln!(
            self.body,
            r#"<path class="{class}" d="M{} {}L{} {}M{} {}L{} {}"><title>{}</title></path>"#,
            n(x - r),
            n(y - r),
            n(x + r),
            n(y + r),
            n(x - r),
            n(y + r),
            n(x + r),
            n(y - r),
            escape(title)
        );
    }

    /// An arrow head at (x, y) pointing along (dx, dy).
    pub fn arrow_head(&mut self, class: &str, x: f64, y: f64, dx: f64, dy: f64) {
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let (bx, by) = (x - ux * 9.0, y - uy * 9.0);
        let _ = writeln!(
            self.body,
            r#"<path class="{class}" d="M{} {}L{} {}L{} {}"/>"#,
            n(bx - uy * 4.0),
            n(by + ux * 4.0),
            n(x),
            n(y),
            n(bx + uy * 4.0),
            n(by - ux * 4.0)
        );
    }

    /// Text at (x, y); `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, class: &str, x: f64, y: f64, anchor: &str, text: &str) {
        let _ = writeln!(
            self.body,
            r#"<text class="{class}" x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
            n(x),
            n(y),
            escape(text)
        );
    }

    /// Text rotated a quarter turn anticlockwise about (x, y) (a y-axis title).
    pub fn text_up(&mut self, class: &str, x: f64, y: f64, text: &str) {
        let _ = writeln!(
            self.body,
            r#"<text class="{class}" x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
            n(x),
            n(y),
            n(x),
            n(y),
            escape(text)
        );
    }

    /// Everything drawn so far shifted down by `dy`, as a group.
    pub fn place(&mut self, other: Svg, dy: f64) {
        let _ = writeln!(self.body, r#"<g transform="translate(0 {})">"#, n(dy));
        self.body.push_str(&other.body);
        self.body.push_str("</g>\n");
        self.width = self.width.max(other.width);
    }

    pub fn height(&self) -> f64 {
        self.height
    }

    pub fn set_height(&mut self, height: f64) {
        self.height = height;
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
             <style>{STYLE}</style>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
            self.body,
            w = n(self.width),
            h = n(self.height)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut svg = Svg::new(10.0, 10.0);
        svg.text("t", 1.0, 2.0, "start", "a<b & \"c\"");
        let doc = svg.finish();
        assert!(doc.contains(">a&lt;b &amp; &quot;c&quot;</text>"), "{doc}");
        assert!(doc.contains(r#"x="1" y="2""#), "{doc}");
    }
}
