//! Handlebars templates (the service's, the catalog's): embedded in the binary, each replaceable by
//! a file of the same name in a `--templates` directory.

use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use handlebars::Handlebars;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A set of templates that render one kind of output.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Its directory under `templates/` in this repository (for diagnostics).
    pub dir: &'static str,
    /// The rule its errors are reported under.
    pub rule: Rule,
    /// Where the data its templates see is described.
    pub data: &'static str,
    /// The embedded templates, by name.
    pub embedded: &'static [(&'static str, &'static str)],
}

mod helpers {
    use handlebars::handlebars_helper;
    handlebars_helper!(json: |value: Json| serde_json::to_string(value).unwrap_or_default());
}

/// A set of templates ready to render.
pub struct Templates {
    family: Family,
    registry: Handlebars<'static>,
    /// Templates read from an override directory, by name.
    overridden: Vec<(String, PathBuf)>,
}

impl Templates {
    /// The embedded templates.
    pub fn embedded(family: Family) -> Self {
        Self::load(family, None).unwrap_or_else(|errors| {
            // The embedded templates are tested; a failure here is a bug in this crate.
            panic!("the embedded templates do not parse: {errors:?}")
        })
    }

    /// The embedded templates, with those `dir` holds (same names) instead. Every template that
    /// does not parse is reported, with its line and column.
    pub fn with_overrides(family: Family, dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        Self::load(family, Some(dir))
    }

    fn load(family: Family, dir: Option<&Path>) -> Result<Self, Vec<Diagnostic>> {
        let embedded = family.embedded;
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("json", Box::new(helpers::json));
        let mut overridden = Vec::new();
        let mut errors = Vec::new();
        if let Some(dir) = dir {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.ends_with(".hbs") && !embedded.iter().any(|(n, _)| *n == name) {
                            let known: Vec<&str> = embedded.iter().map(|(n, _)| *n).collect();
                            errors.push(
                                Diagnostic::new(
                                    family.rule,
                                    format!("`{name}` is not a {} template", family.dir),
                                )
                                .in_file(entry.path(), None)
                                .with_help(format!("the templates are: {}", known.join(", "))),
                            );
                        }
                    }
                }
                Err(error) => errors.push(
                    Diagnostic::new(
                        family.rule,
                        format!("cannot read the templates in {}: {error}", dir.display()),
                    )
                    .in_file(dir, None),
                ),
            }
        }
        for (name, text) in embedded {
            let file = dir.map(|d| d.join(name)).filter(|f| f.is_file());
            let text = match &file {
                Some(file) => match std::fs::read_to_string(file) {
                    Ok(text) => {
                        overridden.push(((*name).to_owned(), file.clone()));
                        text
                    }
                    Err(error) => {
                        errors.push(
                            Diagnostic::new(
                                family.rule,
                                format!("cannot read {}: {error}", file.display()),
                            )
                            .in_file(file, None),
                        );
                        continue;
                    }
                },
                None => (*text).to_owned(),
            };
            if let Err(error) = registry.register_template_string(name, text) {
                let at = error
                    .pos()
                    .map(|(line, column)| format!(" at line {line}, column {column}"))
                    .unwrap_or_default();
                errors.push(
                    Diagnostic::new(family.rule,
                        format!("the template `{name}` does not parse{at}: {}", error.reason()),
                    )
                    .in_file(
                        file.unwrap_or_else(|| PathBuf::from(format!("templates/{}/{name}", family.dir))),
                        None,
                    )
                    .with_help("templates are handlebars: {{value}}, {{#each list}}…{{/each}}, {{#if value}}…{{/if}}"),
                );
            }
        }
        if errors.is_empty() {
            Ok(Self {
                family,
                registry,
                overridden,
            })
        } else {
            Err(errors)
        }
    }

    /// Where template `name` comes from (for diagnostics).
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.overridden
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, path)| path.clone())
            .unwrap_or_else(|| PathBuf::from(format!("templates/{}/{name}", self.family.dir)))
    }

    /// Renders template `name` with `data`.
    pub fn render(&self, name: &str, data: &Value) -> Result<String, Diagnostic> {
        self.registry.render(name, data).map_err(|error| {
            let at = match (error.line_no, error.column_no) {
                (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
                _ => String::new(),
            };
            Diagnostic::new(
                self.family.rule,
                format!("the template `{name}` failed{at}: {}", error.reason()),
            )
            .in_file(self.path_of(name), None)
            .with_help(format!(
                "the data these templates see is described in {}",
                self.family.data
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: Family = Family {
        dir: "test",
        rule: Rule::ServiceTemplate,
        data: "the test",
        embedded: &[
            ("gitignore.hbs", "/target\n"),
            ("main.rs.hbs", "fn main() {}\n"),
        ],
    };

    #[test]
    fn overrides_replace_templates_and_report_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gitignore.hbs"), "/target\n{{name}}\n").unwrap();
        let templates = Templates::with_overrides(FAMILY, dir.path()).unwrap();
        let data = serde_json::json!({ "name": "shop" });
        assert_eq!(
            templates.render("gitignore.hbs", &data).unwrap(),
            "/target\nshop\n"
        );
        // Strict: a name the data lacks is an error, not an empty string.
        let missing = templates
            .render("gitignore.hbs", &serde_json::json!({}))
            .unwrap_err();
        assert!(
            missing.message.contains("gitignore.hbs"),
            "{}",
            missing.message
        );
        std::fs::write(dir.path().join("main.rs.hbs"), "{{#each x}}").unwrap();
        std::fs::write(dir.path().join("extra.hbs"), "").unwrap();
        let errors = Templates::with_overrides(FAMILY, dir.path()).err().unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("`extra.hbs` is not"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("`main.rs.hbs` does not parse"))
        );
    }
}
