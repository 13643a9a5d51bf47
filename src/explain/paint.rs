//! ANSI highlighting for `eqlc explain`, or none: the caller decides (a terminal, `--color`,
//! `NO_COLOR`), so piped output and snapshots stay plain.

/// Whether to highlight, and how each kind of text looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    /// Emit ANSI escapes.
    pub color: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A block header: bold cyan.
    pub fn header(self, text: &str) -> String {
        self.wrap("1;36", text)
    }

    /// A label inside a block (`stage 1:`, `index keys:`): bold.
    pub fn label(self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// A field name: yellow.
    pub fn field(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// A remark that is not the artifact itself (why a block is empty): dim.
    pub fn remark(self, text: &str) -> String {
        self.wrap("2", text)
    }
}
