//! Schema text made safe for a page: descriptions are Markdown, kept as written, except what
//! would turn into HTML (or, in MDX, into JSX expressions) or break a table row.

use super::fields::{Field, inline_code};
use serde_json::{Value, json};

/// The Markdown dialect of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// GitHub-flavoured Markdown.
    Markdown,
    /// MDX (EventCatalog): braces open expressions and `<` opens JSX.
    Mdx,
}

/// Prose: kept as Markdown, with `<` (and in MDX `{`, `}`) escaped outside code spans.
pub fn prose(text: &str, flavor: Flavor) -> String {
    let escaped = escape(text.trim(), flavor, false);
    if flavor == Flavor::Markdown {
        return escaped;
    }
    // MDX reads a line opening with `import ` or `export ` as an ES module statement.
    escaped
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let rest = &line[indent..];
            match rest.strip_prefix('i').filter(|r| r.starts_with("mport ")) {
                Some(tail) => format!("{}&#105;{tail}", &line[..indent]),
                None => match rest.strip_prefix('e').filter(|r| r.starts_with("xport ")) {
                    Some(tail) => format!("{}&#101;{tail}", &line[..indent]),
                    None => line.to_owned(),
                },
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table cell: prose on one line, with `|` escaped.
pub fn cell(text: &str, flavor: Flavor) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&line, flavor, true)
}

fn escape(text: &str, flavor: Flavor, in_table: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '`' {
            let run = chars[index..].iter().take_while(|&&c| c == '`').count();
            if let Some(end) = closing_run(&chars, index + run, run) {
                // A code span: verbatim, but a table still needs its pipes escaped.
                for &c in &chars[index..end + run] {
                    if in_table && c == '|' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                index = end + run;
                continue;
            }
            out.extend(&chars[index..index + run]);
            index += run;
            continue;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' if flavor == Flavor::Mdx => out.push_str("&gt;"),
            '{' | '}' if flavor == Flavor::Mdx => {
                out.push('\\');
                out.push(c);
            }
            '|' if in_table => out.push_str("\\|"),
            '\\' if chars.get(index + 1).is_some_and(char::is_ascii_punctuation) => {
                // Already a Markdown escape (`\{`, `\|`, `\\`): keep the pair as it is.
                out.push('\\');
                out.push(chars[index + 1]);
                index += 1;
            }
            _ => out.push(c),
        }
        index += 1;
    }
    out
}

/// Where a run of exactly `run` backticks starts at or after `from`.
fn closing_run(chars: &[char], from: usize, run: usize) -> Option<usize> {
    let mut index = from;
    while index < chars.len() {
        if chars[index] == '`' {
            let length = chars[index..].iter().take_while(|&&c| c == '`').count();
            if length == run {
                return Some(index);
            }
            index += length;
        } else {
            index += 1;
        }
    }
    None
}

/// A field table's rows, escaped for `flavor`: `path` (as code, nested ones indented in
/// Markdown), `type`, `required` (`yes`/`no`), `constraints`, `description`.
pub fn field_rows(flavor: Flavor, fields: &[Field]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            let indent = match flavor {
                Flavor::Markdown => "&nbsp;&nbsp;".repeat(f.depth),
                Flavor::Mdx => String::new(),
            };
            json!({
                "path": format!("{indent}{}", cell(&inline_code(&f.path), flavor)),
                "type": cell(&f.ty, flavor),
                "required": if f.required { "yes" } else { "no" },
                "constraints": cell(&f.constraints.join(", "), flavor),
                "description": cell(&f.description, flavor),
            })
        })
        .collect()
}

/// Examples as `[{n, text}]`: numbered from 1, pretty JSON.
pub fn examples(values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| json!({"n": index + 1, "text": pretty(value)}))
        .collect()
}

/// Pretty JSON.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A mermaid node label: quoted, with quotes and angle brackets as entities.
pub fn mermaid_label(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Unquoted mermaid text (a state diagram's transition label or note): on one line, with what
/// would end it or read as syntax as entities (`:` and `;` end a label, `#…;` is an entity).
pub fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            ':' => out.push_str("#58;"),
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// A flowchart of commands, aggregates, events, projections, sagas and windows, left to right.
#[derive(Debug, Default)]
pub struct Flow {
    nodes: Vec<(String, String)>,
    edges: Vec<(String, String)>,
}

/// The shapes of a flow's nodes.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// A command: a rectangle.
    Command,
    /// An aggregate: a stadium.
    Aggregate,
    /// An event: a hexagon.
    Event,
    /// A projection: a cylinder.
    Projection,
    /// A saga: a subroutine (a rectangle with double sides).
    Saga,
    /// A window: a parallelogram.
    Window,
}

impl Flow {
    /// Adds a node (once per id).
    pub fn node(&mut self, id: &str, label: &str, shape: Shape) {
        if self.nodes.iter().any(|(existing, _)| existing == id) {
            return;
        }
        let label = mermaid_label(label);
        let drawn = match shape {
            Shape::Command => format!("{id}[{label}]"),
            Shape::Aggregate => format!("{id}([{label}])"),
            Shape::Event => format!("{id}{{{{{label}}}}}"),
            Shape::Projection => format!("{id}[({label})]"),
            Shape::Saga => format!("{id}[[{label}]]"),
            Shape::Window => format!("{id}[/{label}/]"),
        };
        self.nodes.push((id.to_owned(), drawn));
    }

    /// Adds an edge (once).
    pub fn edge(&mut self, from: &str, to: &str) {
        let edge = (from.to_owned(), to.to_owned());
        if !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
    }

    /// The mermaid source.
    pub fn render(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (_, drawn) in &self.nodes {
            out.push_str(&format!("  {drawn}\n"));
        }
        for (from, to) in &self.edges {
            out.push_str(&format!("  {from} --> {to}\n"));
        }
        out.trim_end().to_owned()
    }
}

/// A mermaid node id for an item: letters, digits and `_` only.
pub fn node_id(prefix: &str, name: &str) -> String {
    let mut id = String::from(prefix);
    id.push('_');
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else {
            // Keep distinct names distinct: `a.b` and `a_b` must not meet.
            id.push_str(&format!("_{:x}_", c as u32));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_keeps_markdown_and_code_but_not_html_or_expressions() {
        assert_eq!(
            prose("Use `a<b>` when x < y.", Flavor::Markdown),
            "Use `a<b>` when x &lt; y."
        );
        assert_eq!(
            prose("A {set} and `{code}`", Flavor::Mdx),
            "A \\{set\\} and `{code}`"
        );
        assert_eq!(
            prose("an ` alone < 1", Flavor::Markdown),
            "an ` alone &lt; 1"
        );
    }

    #[test]
    fn cells_stay_on_one_line_with_pipes_escaped() {
        assert_eq!(
            cell("one | two\n`a|b`", Flavor::Markdown),
            "one \\| two `a\\|b`"
        );
    }

    #[test]
    fn flows_are_mermaid_with_safe_labels_and_ids() {
        let mut flow = Flow::default();
        flow.node(&node_id("c", "order.place"), "place \"it\"", Shape::Command);
        flow.node(
            &node_id("e", "order.placed"),
            "order.placed v2",
            Shape::Event,
        );
        flow.edge(&node_id("c", "order.place"), &node_id("e", "order.placed"));
        assert_eq!(
            flow.render(),
            "flowchart LR\n  c_order_2e_place[\"place #quot;it#quot;\"]\n  e_order_2e_placed{{\"order.placed v2\"}}\n  c_order_2e_place --> e_order_2e_placed"
        );
    }

    #[test]
    fn mermaid_text_keeps_to_its_line_and_its_label() {
        assert_eq!(
            mermaid_text("timeout a:b; \"c\" #d <e>\n%%f {g}"),
            "timeout a#58;b#59; #quot;c#quot; #35;d #lt;e#gt; #37;#37;f #123;g#125;"
        );
        assert_eq!(mermaid_text("order.placed"), "order.placed");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

        /// The cells of the first body row of a GFM table, as text.
        fn body_cells(markdown: &str) -> Vec<String> {
            let mut cells = Vec::new();
            let mut in_body = false;
            let mut current: Option<String> = None;
            for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
                match event {
                    Event::End(TagEnd::TableHead) => in_body = true,
                    Event::Start(Tag::TableCell) if in_body => current = Some(String::new()),
                    Event::Text(t) | Event::Code(t) => {
                        if let Some(cell) = current.as_mut() {
                            cell.push_str(&t);
                        }
                    }
                    Event::End(TagEnd::TableCell) => {
                        if let Some(cell) = current.take() {
                            cells.push(cell);
                        }
                    }
                    Event::End(TagEnd::TableRow) if in_body => break,
                    _ => {}
                }
            }
            cells
        }

        proptest! {
            /// Whatever a description holds, it stays in its cell: the row keeps its columns.
            #[test]
            fn cells_never_break_their_row(text in r"[a-z |`<>{}\\\n.*_-]{0,40}") {
                for flavor in [Flavor::Markdown, Flavor::Mdx] {
                    let table = format!("| a | b | c |\n|---|---|---|\n| x | {} | y |\n", cell(&text, flavor));
                    let cells = body_cells(&table);
                    prop_assert_eq!(cells.len(), 3, "{}", table);
                    prop_assert_eq!(&cells[0], "x");
                    prop_assert_eq!(&cells[2], "y");
                }
            }

            /// In MDX, no brace or angle bracket is left to open an expression or a tag outside
            /// code spans.
            #[test]
            fn mdx_prose_opens_no_expression(text in r"[a-z {}<>`\\\n]{0,40}") {
                let escaped = prose(&text, Flavor::Mdx);
                let chars: Vec<char> = escaped.chars().collect();
                let mut index = 0;
                // Backslashes right before the current character: an odd run escapes it.
                let mut backslashes = 0;
                while index < chars.len() {
                    let c = chars[index];
                    if c == '`' && backslashes % 2 == 0 {
                        // A code span, as CommonMark closes it: the next run of the same length.
                        let run = chars[index..].iter().take_while(|&&c| c == '`').count();
                        if let Some(end) = closing_run(&chars, index + run, run) {
                            index = end + run;
                            backslashes = 0;
                            continue;
                        }
                        index += run;
                        backslashes = 0;
                        continue;
                    }
                    if matches!(c, '{' | '}' | '<') {
                        prop_assert!(backslashes % 2 == 1, "{}", escaped);
                    }
                    backslashes = if c == '\\' { backslashes + 1 } else { 0 };
                    index += 1;
                }
            }
        }
    }
}
