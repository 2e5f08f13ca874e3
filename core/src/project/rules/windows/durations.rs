//! `window-duration`: a window's durations parse and are longer than zero (its lateness may be
//! zero); windows are cut in whole milliseconds, and a hop is no longer than its window.

use super::{Checker, at};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::saga;
use std::time::Duration;

/// One duration of the file: how messages name it, and where it is.
struct Place {
    name: &'static str,
    pointer: String,
    /// How to fix a zero duration; `None` where zero is allowed.
    if_zero: Option<&'static str>,
    /// It cuts windows, which are computed in milliseconds.
    cuts: bool,
}

impl Checker<'_> {
    pub(super) fn check_durations(&mut self) {
        let annotations = self.window.annotations.clone();
        let mut cut = Vec::new();
        for (name, text) in annotations.window.durations() {
            let place = Place {
                name: match name {
                    "size" => "the window size",
                    "hop" => "the hop",
                    _ => "the session gap",
                },
                pointer: at(&["window", name]),
                if_zero: Some("write a duration longer than zero, e.g. `PT1M`"),
                cuts: true,
            };
            cut.push((name, text, self.duration(text, &place)));
        }
        if let [
            ("size", size_text, Some(size)),
            ("hop", hop_text, Some(hop)),
        ] = cut.as_slice()
            && hop > size
        {
            self.push(
                Diagnostic::new(
                    Rule::WindowDuration,
                    format!("the hop `{hop_text}` is longer than the window size `{size_text}`: events between two windows would fall in none"),
                )
                .with_label("longer than `size`")
                .with_help("make `hop` at most `size` (a hop as long as the size gives tumbling windows)"),
                &at(&["window", "hop"]),
            );
        }
        let time = &annotations.time;
        let others = [
            (
                "`time.lateness`",
                &time.lateness,
                at(&["time", "lateness"]),
                None,
            ),
            (
                "`time.idle`",
                &time.idle,
                at(&["time", "idle"]),
                Some("write a duration longer than zero, e.g. `PT10S` (the default)"),
            ),
            (
                "`retain`",
                &annotations.retain,
                at(&["retain"]),
                Some(
                    "write how long closed windows are kept, e.g. `P30D`; to keep them for good, remove `retain`",
                ),
            ),
        ];
        for (name, text, pointer, if_zero) in others {
            let Some(text) = text else { continue };
            let place = Place {
                name,
                pointer,
                if_zero,
                cuts: false,
            };
            self.duration(text, &place);
        }
    }

    /// The duration `text`, or a diagnostic and `None`.
    fn duration(&mut self, text: &str, place: &Place) -> Option<Duration> {
        let (message, label, help) = match saga::duration(text) {
            Err(why) => (
                why,
                "not a duration",
                "durations are ISO 8601: `PT1H`, `PT5M`, `PT0.5S`, `P1D`".to_owned(),
            ),
            Ok(duration) if duration.is_zero() => match place.if_zero {
                Some(help) => (
                    format!("{} is `{text}`, no time at all", place.name),
                    "zero",
                    help.to_owned(),
                ),
                None => return Some(duration),
            },
            Ok(duration) if place.cuts && duration.as_nanos() % 1_000_000 != 0 => (
                format!(
                    "{} `{text}` is not a whole number of milliseconds",
                    place.name
                ),
                "finer than a millisecond",
                "windows are computed in milliseconds: round it to a millisecond, e.g. `PT0.001S`"
                    .to_owned(),
            ),
            Ok(duration) => return Some(duration),
        };
        self.push(
            Diagnostic::new(Rule::WindowDuration, message)
                .with_label(label)
                .with_help(help),
            &place.pointer,
        );
        None
    }
}
