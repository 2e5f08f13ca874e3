//! The saga rules: events exist and find their instance by a property every version has with
//! one type; commands exist and get payloads their schemas accept; templates read fields that
//! exist; durations parse; every state is reachable and can reach an end.

use crate::diagnostic::{Diagnostic, Rule};
use crate::project::annotations::KEYWORD;
use crate::project::model::{Project, Saga};
use crate::project::saga::{self, Expression, STREAM, Send, Source, Step};
use crate::schema::store::NodeRef;
use crate::text::pointer;
use crate::text::similar::closest;
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};

/// Checks every saga of the project.
pub(super) fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for saga in project.sagas.values() {
        Checker {
            project,
            saga,
            diagnostics: &mut *diagnostics,
        }
        .run();
    }
}

struct Checker<'a> {
    project: &'a Project,
    saga: &'a Saga,
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// What a template may read where it stands.
struct Scope<'s> {
    /// The event handled, when the step handles one.
    event: Option<&'s str>,
    /// The schema of `$item`, when inside `for_each` (`None` inside: not typed).
    item: Option<Option<NodeRef>>,
}

fn at(parts: &[&str]) -> String {
    parts.iter().fold(pointer::push("", KEYWORD), |p, part| {
        pointer::push(&p, part)
    })
}

impl Checker<'_> {
    fn report(&mut self, rule: Rule, message: String, label: &str, help: String, at: &str) {
        let document = self.project.store.document(self.saga.schema);
        self.diagnostics.push(
            document.diagnostic_at(
                Diagnostic::new(rule, message)
                    .with_label(label)
                    .with_help(help),
                at,
            ),
        );
    }

    fn run(&mut self) {
        let annotations = &self.saga.annotations;
        for table in ["instances", "outbox", "timeouts"] {
            let taken = format!("{}_{table}", self.saga.name);
            if let Some(projection) = self.project.projections.get(&taken) {
                let document = self.project.store.document(projection.schema);
                self.diagnostics.push(
                    document.diagnostic_at(
                        Diagnostic::new(Rule::NameCollision, format!("projection `{taken}` has the name of saga `{}`'s {table} table", self.saga.name))
                            .with_label("a saga's table is called so")
                            .with_help("both keep their tables in one database: rename the projection or the saga"),
                        "",
                    ),
                );
            }
        }
        if annotations.states.is_empty() {
            return; // the annotation error is reported already
        }
        self.check_events();
        self.check_durations();
        self.check_states();
        let mut steps = BTreeSet::new();
        for (state_name, state) in &annotations.states {
            for (place, step) in state.steps() {
                let event = place.strip_prefix("on/").map(pointer::unescape);
                let base = format!("{}/{place}", at(&["states", state_name]));
                self.check_step(step, event.as_deref(), &base, &mut steps);
            }
        }
    }

    fn check_events(&mut self) {
        let annotations = &self.saga.annotations;
        let mut read: Vec<(String, String)> = Vec::new();
        for (index, event) in annotations.starts.iter().enumerate() {
            read.push((event.clone(), at(&["starts", &index.to_string()])));
        }
        for (name, state) in &annotations.states {
            for event in state.on.keys() {
                read.push((event.clone(), at(&["states", name, "on", event])));
            }
            for (index, event) in state.defer.iter().enumerate() {
                read.push((
                    event.clone(),
                    at(&["states", name, "defer", &index.to_string()]),
                ));
            }
        }
        for event in annotations.correlation.keys() {
            read.push((event.clone(), at(&["correlation", event])));
        }
        let mut reported = BTreeSet::new();
        for (event, place) in &read {
            if !self.project.events.contains_key(event) {
                if reported.insert(event.clone()) {
                    let help =
                        match closest(event, self.project.events.keys().map(String::as_str)) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "name an event type `<aggregate>.<event>` of schema/events/"
                                .to_owned(),
                        };
                    self.report(
                        Rule::SagaEvent,
                        format!(
                            "saga `{}` reads event `{event}`, which is not defined",
                            self.saga.name
                        ),
                        "no such event",
                        help,
                        place,
                    );
                }
            } else if !annotations.correlation.contains_key(event) && reported.insert(event.clone())
            {
                self.report(
                    Rule::SagaEvent,
                    format!("event `{event}` has no correlation: the saga cannot tell which instance it is for"),
                    "not in `correlation`",
                    format!("add \"{event}\": \"$stream\" (the event's aggregate id is the instance id) or the name of a property holding it to `correlation`"),
                    place,
                );
            }
        }
        for (event_type, property) in &annotations.correlation {
            let Some(event) = self.project.events.get(event_type) else {
                continue;
            };
            if property == STREAM {
                continue;
            }
            let place = at(&["correlation", event_type]);
            let mut types: Vec<(u32, Option<BTreeSet<String>>)> = Vec::new();
            for version in &event.versions {
                let root = self.project.root_of(version.schema);
                match self.property(&root, property) {
                    Lookup::Found(node) => {
                        types.push((version.version, self.types_of(node.as_ref())))
                    }
                    Lookup::Missing(names) => {
                        let help = match closest(property, names.iter().map(String::as_str)) {
                            Some(near) => format!("did you mean `{near}`? A correlation property must be in every version of the event"),
                            None => "name a top-level property every version of the event has, or write `$stream`".to_owned(),
                        };
                        self.report(
                            Rule::SagaCorrelation,
                            format!(
                                "correlation property `{property}` is not in `{event_type}` v{}",
                                version.version
                            ),
                            "missing in a version",
                            help,
                            &place,
                        );
                    }
                    Lookup::Untyped => types.push((version.version, None)),
                }
            }
            let id_like = |types: &BTreeSet<String>| {
                types
                    .iter()
                    .all(|t| t == "string" || t == "integer" || t == "null")
            };
            if let Some((version, Some(types))) = types
                .iter()
                .find(|(_, t)| t.as_ref().is_some_and(|t| !id_like(t)))
            {
                self.report(
                    Rule::SagaCorrelation,
                    format!("correlation property `{property}` of `{event_type}` v{version} is {}, not an id", describe(Some(types))),
                    "not text or a whole number",
                    "an instance id is a string or an integer: correlate by such a property, or by `$stream`".to_owned(),
                    &place,
                );
                continue;
            }
            let distinct: BTreeSet<_> = types.iter().map(|(_, types)| types.clone()).collect();
            if distinct.len() > 1 {
                let listed: Vec<String> = types
                    .iter()
                    .map(|(version, types)| format!("v{version}: {}", describe(types.as_ref())))
                    .collect();
                self.report(
                    Rule::SagaCorrelation,
                    format!("correlation property `{property}` of `{event_type}` changes type between versions ({})", listed.join(", ")),
                    "not one type in every version",
                    "instances are found by this value's text: give the property one type in every version, or correlate by another".to_owned(),
                    &place,
                );
            }
        }
    }

    fn check_durations(&mut self) {
        let annotations = &self.saga.annotations;
        for (name, text) in &annotations.timeouts {
            if let Err(why) = saga::duration(text) {
                self.report(
                    Rule::SagaDuration,
                    why,
                    "not a duration",
                    "durations are ISO 8601: `PT30M`, `PT2S`, `P1DT12H`".to_owned(),
                    &at(&["timeouts", name]),
                );
            }
        }
        let mut retries = vec![(annotations.retry.as_ref(), at(&["retry"]))];
        for (state_name, state) in &annotations.states {
            for (place, step) in state.steps() {
                for (index, send) in step.send.iter().enumerate() {
                    retries.push((
                        send.retry.as_ref(),
                        format!("{}/{place}/send/{index}/retry", at(&["states", state_name])),
                    ));
                }
            }
        }
        for (retry, place) in retries {
            let Some(retry) = retry else { continue };
            for (field, text) in [
                ("interval", &retry.interval),
                ("max_interval", &retry.max_interval),
            ] {
                if let Some(Err(why)) = text.as_deref().map(saga::duration) {
                    self.report(
                        Rule::SagaDuration,
                        why,
                        "not a duration",
                        "durations are ISO 8601: `PT0.5S`, `PT30S`".to_owned(),
                        &pointer::push(&place, field),
                    );
                }
            }
        }
    }

    fn check_states(&mut self) {
        let annotations = &self.saga.annotations;
        let names: Vec<&str> = annotations.states.keys().map(String::as_str).collect();
        let unknown_help = |name: &str| match closest(name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("name one of the states: {}", names.join(", ")),
        };
        if !annotations.states.contains_key(&annotations.initial) {
            let help = unknown_help(&annotations.initial);
            self.report(
                Rule::SagaState,
                format!(
                    "initial state `{}` is not a state of the saga",
                    annotations.initial
                ),
                "no such state",
                help,
                &at(&["initial"]),
            );
            return;
        }
        let initial = &annotations.states[&annotations.initial];
        for (index, event) in annotations.starts.iter().enumerate() {
            if !initial.on.contains_key(event) {
                self.report(
                    Rule::SagaState,
                    format!(
                        "start event `{event}` is not handled by the initial state `{}`",
                        annotations.initial
                    ),
                    "starts an instance that does nothing with it",
                    format!("add \"{event}\" to `states.{}.on`", annotations.initial),
                    &at(&["starts", &index.to_string()]),
                );
            }
        }
        let mut edges: Vec<(String, Vec<String>)> = Vec::new();
        for (name, state) in &annotations.states {
            let mut next = Vec::new();
            for (place, step) in state.steps() {
                if let Some(then) = &step.then {
                    if annotations.states.contains_key(then) {
                        next.push(then.clone());
                    } else {
                        let help = unknown_help(then);
                        self.report(
                            Rule::SagaState,
                            format!("`then` names `{then}`, which is not a state of the saga"),
                            "no such state",
                            help,
                            &format!("{}/{place}/then", at(&["states", name])),
                        );
                    }
                }
                let is_timeout = place == "timeout";
                match (&step.after, is_timeout) {
                    (None, true) => self.report(
                        Rule::SagaDuration,
                        "a timeout says not how long it waits".to_owned(),
                        "no `after`",
                        "add \"after\": \"<name of a duration in `timeouts`>\"".to_owned(),
                        &format!("{}/timeout", at(&["states", name])),
                    ),
                    (Some(after), true) if !annotations.timeouts.contains_key(after) => {
                        let help =
                            match closest(after, annotations.timeouts.keys().map(String::as_str)) {
                                Some(near) => format!("did you mean `{near}`?"),
                                None => {
                                    format!("declare it: \"timeouts\": {{\"{after}\": \"PT30M\"}}")
                                }
                            };
                        self.report(
                            Rule::SagaDuration,
                            format!("timeout `{after}` is not declared in `timeouts`"),
                            "no such timeout",
                            help,
                            &format!("{}/timeout/after", at(&["states", name])),
                        );
                    }
                    (Some(_), false) => self.report(
                        Rule::SagaState,
                        "only a state's `timeout` waits `after` a duration".to_owned(),
                        "not a timeout",
                        "move this step under `timeout`, or remove `after`".to_owned(),
                        &format!("{}/{place}/after", at(&["states", name])),
                    ),
                    _ => {}
                }
            }
            if state.end.is_some() {
                let busy = state.steps().next().is_some() || !state.defer.is_empty();
                if busy {
                    self.report(Rule::SagaState, format!("end state `{name}` handles inputs"), "an end state does nothing more", "remove its `on`, `accepted`, `rejected`, `timeout` and `defer`, or drop `end`".to_owned(), &at(&["states", name, "end"]));
                }
            }
            edges.push((name.clone(), next));
        }
        let reachable = reach(&edges, std::iter::once(annotations.initial.clone()));
        for name in annotations.states.keys() {
            if !reachable.contains(name) {
                self.report(Rule::SagaState, format!("state `{name}` cannot be reached from `{}`", annotations.initial), "unreachable", "make a step of another state go there (`\"then\": \"…\"`), or remove the state".to_owned(), &at(&["states", name]));
            }
        }
        // Backwards from the end states: every state must be able to get to one.
        let reversed: Vec<(String, Vec<String>)> = annotations
            .states
            .keys()
            .map(|name| {
                let from = edges
                    .iter()
                    .filter(|(_, next)| next.contains(name))
                    .map(|(from, _)| from.clone())
                    .collect();
                (name.clone(), from)
            })
            .collect();
        let ends = annotations
            .states
            .iter()
            .filter(|(_, state)| state.end.is_some())
            .map(|(name, _)| name.clone());
        let ending = reach(&reversed, ends);
        for name in annotations.states.keys() {
            if reachable.contains(name) && !ending.contains(name) {
                self.report(
                    Rule::SagaDeadEnd,
                    format!("from state `{name}` no path leads to an end state"),
                    "instances that get here never end",
                    "give the state a step whose `then` leads to a state with `\"end\": \"completed\"` (or `compensated`, `failed`), e.g. a `timeout`".to_owned(),
                    &at(&["states", name]),
                );
            }
        }
    }

    fn check_step(
        &mut self,
        step: &Step,
        event: Option<&str>,
        base: &str,
        names: &mut BTreeSet<String>,
    ) {
        let scope = Scope { event, item: None };
        if let Some(method) = &step.rules
            && crate::project::names::is_keyword(method)
        {
            self.report(
                Rule::SagaState,
                format!("rules method `{method}` is a Rust keyword"),
                "not a method name",
                format!("name it otherwise, e.g. `{method}_step`"),
                &pointer::push(base, "rules"),
            );
        }
        for (key, template) in &step.record {
            let here = pointer::push(&pointer::push(base, "record"), key);
            let state_root = self.project.root_of(self.saga.schema);
            let target = match self.property(&state_root, key) {
                Lookup::Found(node) => node,
                Lookup::Untyped => None,
                Lookup::Missing(names) => {
                    let help = match closest(key, names.iter().map(String::as_str)) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "record properties the saga file's schema declares".to_owned(),
                    };
                    self.diagnostics.push(self.project.store.document(self.saga.schema).diagnostic_at_key(
                        Diagnostic::new(Rule::SagaExpression, format!("`record` sets `{key}`, which is not a property of the saga's state"))
                            .with_label("not a state property")
                            .with_help(help),
                        &here,
                    ));
                    continue;
                }
            };
            self.check_template(template, &scope, target.as_ref(), &here);
        }
        for (index, send) in step.send.iter().enumerate() {
            let here = pointer::push(&pointer::push(base, "send"), &index.to_string());
            if !names.insert(send.step.clone()) {
                self.report(
                    Rule::SagaState,
                    format!("step name `{}` is used twice", send.step),
                    "not unique",
                    "step names key idempotency keys and history: give each `send` its own"
                        .to_owned(),
                    &pointer::push(&here, "step"),
                );
            }
            self.check_send(send, &scope, &here);
        }
    }

    fn check_send(&mut self, send: &Send, scope: &Scope, here: &str) {
        let mut scope = Scope {
            event: scope.event,
            item: None,
        };
        if let Some(each) = &send.for_each {
            let place = pointer::push(here, "for_each");
            match saga::expression(each) {
                None => self.report(
                    Rule::SagaExpression,
                    format!("`for_each` is `{each}`, which reads nothing"),
                    "not an expression",
                    "write the array to go through, e.g. `$event.lines`".to_owned(),
                    &place,
                ),
                Some(Err(why)) => self.report(
                    Rule::SagaExpression,
                    why,
                    "not an expression",
                    "write the array to go through, e.g. `$event.lines`".to_owned(),
                    &place,
                ),
                Some(Ok(expression)) => {
                    let array = self.resolve(&expression, &scope, &place);
                    let items = match array {
                        Some(Some(node)) => {
                            let types = self.types_of(Some(&node));
                            if types.as_ref().is_some_and(|t| !t.contains("array")) {
                                self.report(
                                    Rule::SagaExpression,
                                    format!(
                                        "`for_each` reads `{each}`, which is {}, not an array",
                                        describe(types.as_ref())
                                    ),
                                    "not an array",
                                    "name an array property".to_owned(),
                                    &place,
                                );
                            }
                            let node = self.project.store.follow(&node).unwrap_or(node);
                            let items = NodeRef {
                                doc: node.doc,
                                pointer: pointer::push(&node.pointer, "items"),
                            };
                            self.project.value(&items).is_some().then_some(items)
                        }
                        _ => None,
                    };
                    scope.item = Some(items);
                }
            }
        }
        let Some(command) = self.command(&send.command, &pointer::push(here, "command")) else {
            return;
        };
        self.check_id(&send.to, &scope, &pointer::push(here, "to"));
        self.check_payload(
            &send.command,
            command.clone(),
            &send.payload,
            &scope,
            &pointer::push(here, "payload"),
            &pointer::push(here, "command"),
        );
        if let Some(compensation) = &send.compensate {
            let place = pointer::push(here, "compensate");
            if let Some(undo) =
                self.command(&compensation.command, &pointer::push(&place, "command"))
            {
                if let Some(to) = &compensation.to {
                    self.check_id(to, &scope, &pointer::push(&place, "to"));
                }
                self.check_payload(
                    &compensation.command,
                    undo,
                    &compensation.payload,
                    &scope,
                    &pointer::push(&place, "payload"),
                    &pointer::push(&place, "command"),
                );
            }
        }
    }

    /// The command's schema root, or a diagnostic.
    fn command(&mut self, name: &str, place: &str) -> Option<NodeRef> {
        match self.project.commands.get(name) {
            Some(command) => Some(self.project.root_of(command.schema)),
            None => {
                let help = match closest(name, self.project.commands.keys().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "name a command `<aggregate>.<command>` of schema/commands/".to_owned(),
                };
                let what = match name.split_once('.') {
                    Some((aggregate, _)) if !self.project.aggregates.contains_key(aggregate) => {
                        format!(
                            "command `{name}` is not defined (there is no aggregate `{aggregate}`)"
                        )
                    }
                    _ => format!("command `{name}` is not defined"),
                };
                self.report(Rule::SagaCommand, what, "no such command", help, place);
                None
            }
        }
    }

    fn check_payload(
        &mut self,
        name: &str,
        command: NodeRef,
        payload: &indexmap::IndexMap<String, Value>,
        scope: &Scope,
        place: &str,
        command_place: &str,
    ) {
        let Some(root) = self.project.store.follow(&command) else {
            return;
        };
        let schema = self.project.value(&root).cloned().unwrap_or(Value::Null);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, template) in payload {
            let here = pointer::push(place, key);
            match self.property(&root, key) {
                Lookup::Found(target) => {
                    self.check_template(template, scope, target.as_ref(), &here)
                }
                Lookup::Missing(names) if closed => {
                    let help = match closest(key, names.iter().map(String::as_str)) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "`{name}` takes {}",
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.diagnostics.push(
                        self.project
                            .store
                            .document(self.saga.schema)
                            .diagnostic_at_key(
                                Diagnostic::new(
                                    Rule::SagaPayload,
                                    format!("`{name}` has no property `{key}`"),
                                )
                                .with_label("not a property of the command")
                                .with_help(help),
                                &here,
                            ),
                    );
                }
                _ => self.check_template(template, scope, None, &here),
            }
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let missing: Vec<&str> = required
            .into_iter()
            .filter(|r| !payload.contains_key(*r))
            .collect();
        if !missing.is_empty() {
            let listed = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.report(
                Rule::SagaPayload,
                format!("the payload sent as `{name}` lacks its required {listed}"),
                "the command would be refused",
                format!(
                    "add {listed} to `payload`, from a literal or a template like `$event.<field>`"
                ),
                if payload.is_empty() {
                    command_place
                } else {
                    place
                },
            );
        }
    }

    /// A `to`: a template giving an aggregate id, which is text or a whole number.
    fn check_id(&mut self, template: &Value, scope: &Scope, place: &str) {
        self.check_template(template, scope, None, place);
        let Value::String(text) = template else {
            if !template.is_i64() {
                self.report(Rule::SagaPayload, format!("`to` is {template}, not an aggregate id"), "not an id", "write `$event.<field>`, `$state.<field>`, `$item.<field>` or `$saga.id`, or a literal string".to_owned(), place);
            }
            return;
        };
        let Some(Ok(expression)) = saga::expression(text) else {
            return;
        };
        let mut quiet = Vec::new();
        let source = {
            let mut checker = Checker {
                project: self.project,
                saga: self.saga,
                diagnostics: &mut quiet,
            };
            checker.resolve(&expression, scope, place)
        };
        let Some(types) = source.and_then(|node| self.types_of(node.as_ref())) else {
            return;
        };
        if !types.iter().all(|t| t == "string" || t == "integer") {
            self.report(
                Rule::SagaPayload,
                format!(
                    "`to` reads `{text}`, which is {}, not an aggregate id",
                    describe(Some(&types))
                ),
                "not text or a whole number",
                "read a string or integer field".to_owned(),
                place,
            );
        }
    }

    fn check_template(
        &mut self,
        template: &Value,
        scope: &Scope,
        target: Option<&NodeRef>,
        place: &str,
    ) {
        match template {
            Value::String(text) => match saga::expression(text) {
                Some(Err(why)) => self.report(Rule::SagaExpression, why, "not an expression", "templates read `$event.<field>`, `$state.<field>`, `$item.<field>` or `$saga.id`".to_owned(), place),
                Some(Ok(expression)) => {
                    let Some(source) = self.resolve(&expression, scope, place) else { return };
                    let (from, to) = (self.types_of(source.as_ref()), self.types_of(target));
                    if let (Some(from), Some(to)) = (&from, &to) {
                        let fits = from.iter().all(|t| to.contains(t) || (t == "integer" && to.contains("number")));
                        if !fits {
                            self.report(Rule::SagaPayload, format!("`{text}` is {} where {} is expected", describe(Some(from)), describe(Some(to))), "of the wrong type", "read a field of the expected type, or change the schema".to_owned(), place);
                        }
                    }
                }
                None => self.check_literal(template, target, place),
            },
            Value::Object(_) | Value::Array(_) => {
                let nested = saga::expressions(template);
                if nested.is_empty() {
                    self.check_literal(template, target, place);
                }
                for (below, parsed) in nested {
                    let here = format!("{place}{below}");
                    match parsed {
                        Err(why) => self.report(Rule::SagaExpression, why, "not an expression", "templates read `$event.<field>`, `$state.<field>`, `$item.<field>` or `$saga.id`".to_owned(), &here),
                        Ok(expression) => {
                            self.resolve(&expression, scope, &here);
                        }
                    }
                }
            }
            _ => self.check_literal(template, target, place),
        }
    }

    fn check_literal(&mut self, value: &Value, target: Option<&NodeRef>, place: &str) {
        let Some(target) = target else { return };
        let Some(text) = crate::schema::bundle::subschema_text(&self.project.store, target) else {
            return;
        };
        let Ok(schema) = serde_json::from_str::<Value>(&text) else {
            return;
        };
        let Ok(validator) = jsonschema::validator_for(&schema) else {
            return;
        };
        if let Some(error) = validator.iter_errors(value).next() {
            self.report(
                Rule::SagaPayload,
                format!("the literal {value} does not fit the field's schema: {error}"),
                "refused by the schema",
                "write a value the field's schema accepts".to_owned(),
                place,
            );
        }
    }

    /// The schema node an expression reads (`Some(None)`: it exists but is not typed), or a
    /// diagnostic and `None`.
    fn resolve(
        &mut self,
        expression: &Expression,
        scope: &Scope,
        place: &str,
    ) -> Option<Option<NodeRef>> {
        let start = match expression.source {
            Source::SagaId => return Some(None),
            Source::State => Some(self.project.root_of(self.saga.schema)),
            Source::Event => match scope.event {
                Some(event) => self
                    .project
                    .events
                    .get(event)
                    .map(|e| self.project.root_of(e.latest().schema)),
                None => {
                    self.report(Rule::SagaExpression, "`$event` is read where no event is handled".to_owned(), "no event here", "command outcomes and timeouts carry no event: read `$state` (record what later steps need)".to_owned(), place);
                    return None;
                }
            },
            Source::Item => match &scope.item {
                Some(item) => item.clone(),
                None => {
                    self.report(
                        Rule::SagaExpression,
                        "`$item` is read outside `for_each`".to_owned(),
                        "no item here",
                        "`$item` is the item of a `send` with `for_each`".to_owned(),
                        place,
                    );
                    return None;
                }
            },
        };
        let mut node = start;
        for name in &expression.path {
            let Some(current) = node else {
                return Some(None);
            };
            node = match self.property(&current, name) {
                Lookup::Found(next) => next,
                Lookup::Untyped => None,
                Lookup::Missing(names) => {
                    let help = match closest(name, names.iter().map(String::as_str)) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "read a property the schema declares".to_owned(),
                    };
                    let whose = match (expression.source, scope.event) {
                        (Source::Event, Some(event)) => format!("the latest version of `{event}`"),
                        (Source::State, _) => "the saga's state".to_owned(),
                        _ => "the item".to_owned(),
                    };
                    self.report(
                        Rule::SagaExpression,
                        format!("{whose} has no `{name}`"),
                        "no such field",
                        help,
                        place,
                    );
                    return None;
                }
            };
        }
        Some(node)
    }

    /// A property of an object schema (or an item of an array schema, for a numeric name).
    fn property(&self, node: &NodeRef, name: &str) -> Lookup {
        let Some(node) = self.project.store.follow(node) else {
            return Lookup::Untyped;
        };
        let Some(schema) = self.project.value(&node) else {
            return Lookup::Untyped;
        };
        if name.parse::<usize>().is_ok() && schema.get("items").is_some() {
            return Lookup::Found(Some(NodeRef {
                doc: node.doc,
                pointer: pointer::push(&node.pointer, "items"),
            }));
        }
        match schema.get("properties").and_then(Value::as_object) {
            Some(properties) if properties.contains_key(name) => {
                let child = NodeRef {
                    doc: node.doc,
                    pointer: pointer::push(&pointer::push(&node.pointer, "properties"), name),
                };
                Lookup::Found(Some(child))
            }
            Some(properties) => {
                let open = schema
                    .get("additionalProperties")
                    .is_some_and(|a| a != &Value::Bool(false));
                if open {
                    Lookup::Untyped
                } else {
                    Lookup::Missing(properties.keys().cloned().collect())
                }
            }
            None => Lookup::Untyped,
        }
    }

    /// The `type` of a schema node as a set, `None` when it does not say.
    fn types_of(&self, node: Option<&NodeRef>) -> Option<BTreeSet<String>> {
        let node = self.project.store.follow(node?)?;
        match self.project.value(&node)?.get("type")? {
            Value::String(one) => Some(BTreeSet::from([one.clone()])),
            Value::Array(many) => Some(
                many.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        }
    }
}

enum Lookup {
    /// It is declared (its schema node, `None` when not followable).
    Found(Option<NodeRef>),
    /// The schema does not say which properties it has.
    Untyped,
    /// It is not declared; these are.
    Missing(Vec<String>),
}

fn describe(types: Option<&BTreeSet<String>>) -> String {
    match types {
        None => "untyped".to_owned(),
        Some(types) => {
            let names: Vec<&str> = types.iter().map(String::as_str).collect();
            let joined = names.join(" or ");
            match names.first() {
                Some(first) if first.starts_with(['a', 'e', 'i', 'o', 'u']) && names.len() == 1 => {
                    format!("an {joined}")
                }
                _ => format!("a {joined}"),
            }
        }
    }
}

/// Every node reachable from `starts` along `edges`.
fn reach(
    edges: &[(String, Vec<String>)],
    starts: impl Iterator<Item = String>,
) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = starts.collect();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some((_, next)) = edges.iter().find(|(from, _)| *from == name) {
            queue.extend(next.iter().cloned());
        }
    }
    seen
}
