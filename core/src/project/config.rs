//! `eventsmith.toml`: the project settings.

use crate::diagnostic::Diagnostic;
use crate::diagnostic::Rule;
use crate::schema::draft::Draft;
use crate::text::source::SourceFile;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The settings file's name.
pub const FILE_NAME: &str = "eventsmith.toml";

/// The whole settings file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[project]`
    pub project: ProjectSettings,
    /// `[schema]`
    #[serde(default)]
    pub schema: SchemaSettings,
    /// `[compatibility]`
    #[serde(default)]
    pub compatibility: CompatibilitySettings,
    /// `[output]`
    #[serde(default)]
    pub output: OutputSettings,
}

/// `[project]`: names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// The project's name; also the default service name.
    pub name: String,
    /// The generated service's binary and crate name (default: `name`).
    #[serde(default)]
    pub service: Option<String>,
    /// One line on what the project is.
    #[serde(default)]
    pub description: Option<String>,
    /// The version of the project's API, as the catalog publishes it (AsyncAPI's
    /// `info.version`, EventCatalog's services); default `1.0.0`.
    #[serde(default = "default_version")]
    pub version: String,
}

fn default_version() -> String {
    "1.0.0".to_owned()
}

/// `[schema]`: where the schema files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSettings {
    /// The schema directory, relative to `eventsmith.toml` (default `schema`).
    #[serde(default = "default_schema_dir")]
    pub dir: PathBuf,
    /// The draft of a file without `$schema` (default `2020-12`).
    #[serde(default = "default_draft")]
    pub draft: Draft,
}

impl Default for SchemaSettings {
    fn default() -> Self {
        Self {
            dir: default_schema_dir(),
            draft: default_draft(),
        }
    }
}

fn default_draft() -> Draft {
    Draft::Draft202012
}

fn default_schema_dir() -> PathBuf {
    PathBuf::from("schema")
}

/// `[compatibility]`: what `eventsmith check` enforces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatibilitySettings {
    /// The level every released version must keep (default `backward`).
    #[serde(default)]
    pub level: Level,
}

/// Compatibility levels, with Confluent Schema Registry's meanings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Anything goes.
    None,
    /// New readers read data written with the previous schema.
    #[default]
    Backward,
    /// Backward against every earlier schema.
    BackwardTransitive,
    /// Old readers read data written with the new schema.
    Forward,
    /// Forward against every earlier schema.
    ForwardTransitive,
    /// Backward and forward.
    Full,
    /// Full against every earlier schema.
    FullTransitive,
}

/// `[output]`: where generated artifacts go, relative to `eventsmith.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    /// `eventsmith generate` (default `src/events`).
    #[serde(default = "default_rust_dir")]
    pub rust: PathBuf,
    /// `eventsmith catalog` (default `docs/catalog`).
    #[serde(default = "default_catalog_dir")]
    pub catalog: PathBuf,
    /// `eventsmith service new` (default `service`).
    #[serde(default = "default_service_dir")]
    pub service: PathBuf,
}

impl Default for OutputSettings {
    fn default() -> Self {
        Self {
            rust: default_rust_dir(),
            catalog: default_catalog_dir(),
            service: default_service_dir(),
        }
    }
}

fn default_rust_dir() -> PathBuf {
    PathBuf::from("src/events")
}
fn default_catalog_dir() -> PathBuf {
    PathBuf::from("docs/catalog")
}
fn default_service_dir() -> PathBuf {
    PathBuf::from("service")
}

impl Config {
    /// Parses the settings file; errors carry the TOML position.
    pub fn parse(source: &SourceFile) -> Result<Config, Diagnostic> {
        toml::from_str::<Config>(source.text()).map_err(|err| {
            let span = err.span().map(|range| source.span(range));
            Diagnostic::new(Rule::Config, format!("invalid {FILE_NAME}: {}", err.message()))
                .in_file(source.display(), span.or(Some(source.span(0..0))))
                .with_label(err.message().to_owned())
                .with_help(
                    "see docs/schema-format.md#eventsmithtoml for the keys; `[project] name` is required",
                )
        })
    }

    /// The service name (`project.service`, else `project.name`).
    pub fn service_name(&self) -> &str {
        self.project
            .service
            .as_deref()
            .unwrap_or(&self.project.name)
    }
}

/// The directory holding the nearest `eventsmith.toml`, from `start` upward.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(FILE_NAME).is_file())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let config =
            Config::parse(&SourceFile::new("e.toml", "[project]\nname = \"shop\"\n")).unwrap();
        assert_eq!(config.schema.dir, PathBuf::from("schema"));
        assert_eq!(config.compatibility.level, Level::Backward);
        assert_eq!(config.service_name(), "shop");
        let err = Config::parse(&SourceFile::new(
            "e.toml",
            "[project]\nname = \"shop\"\n[compatibility]\nlevel = \"sideways\"\n",
        ))
        .unwrap_err();
        assert_eq!(err.span.unwrap().line, 4);
        assert!(err.message.contains("sideways"), "{}", err.message);
    }
}
