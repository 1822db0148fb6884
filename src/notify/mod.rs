//! Templates: one folder per event under `templates/`, French and English, rendered with
//! handlebars in strict mode. Owns the two handlebars registries and the template files; knows
//! nothing of tickets, the store or transports: it turns a JSON context into a subject, a text
//! part and an HTML part.
//!
//! # Files
//!
//! `templates/<event>/<locale>/{subject.txt,body.txt,body.html}.hbs`, for the events of
//! [`Template::ALL`] (folder names from [`Template::name`]) and the locales `fr` and `en`
//! ([`LOCALES`]), and the partials `templates/partials/<locale>/<name>.{txt,html}.hbs` for
//! [`PARTIALS`] (`ticket_summary`: reference, offer and title of the ticket; `signature`: the
//! footer). A body includes one as `{{> partials/fr/signature}}`: the plain registry holds the
//! `.txt` file under that name and the HTML registry the `.html` one, so the same line works in
//! both bodies and HTML escaping stays where it belongs. The new events' bodies use both; the
//! first three (`ticket_created`, `sender_refused`, `agent_reply`) keep their own text.
//!
//! They are compiled into the binary, so it runs from any
//! directory. When [`Notifier::new`] is given an override directory, each file found there at
//! the same relative path (say `ticket_created/fr/body.html.hbs` or
//! `partials/en/signature.txt.hbs`) replaces the built-in one;
//! the others stay built in. Other files in that directory are ignored (there is no third
//! locale). An override that does not compile, or that uses a variable the context below does
//! not have, makes [`Notifier::new`] fail with an error naming the file: a typo is found at
//! start-up, not when the first mail is sent.
//!
//! An offer may have its own override directory (`offers[].templates_dir`):
//! [`Notifier::from_config`] builds one set of templates per such offer, each file looked up
//! in the offer's directory, then the global one (`mail.templates_dir`), then built in, and
//! checked the same way. [`Notifier::for_offer`] gives the set an offer's mail renders with.
//!
//! An unknown locale falls back to `fr` ([`DEFAULT_LOCALE`]); `en-GB` or `fr_FR` use their
//! language. Subjects and text parts go through a registry that does not escape anything;
//! HTML parts through one that HTML-escapes every `{{value}}`. Both are in strict mode: a
//! missing variable is an error, except inside `{{#if}}` which takes its `else` branch. A
//! rendered subject is made one line (line breaks become spaces, runs of spaces one space).
//!
//! # Context
//!
//! Every template receives this JSON (built by `service::outbox::mail_context`, and for the
//! ticket events by `service::notices`, which adds `author`, `new_text`, `status`,
//! `reopen_days` and `assignee`; the SLA and digest fields are the contract for the SLA issue,
//! which will build them):
//!
//! ```text
//! {
//!   "offer": {
//!     "code": "SMSU",                          // offer code, as in subject tags
//!     "name": "SMS Universitaire",             // display name
//!     "support_address": "support-smsu@..."    // first support address, or null
//!   },
//!   "ticket": {                                // absent for sender_refused and daily_digest
//!     "ref": "I-000042",
//!     "tag": "[SMSU I-000042]",                // the subject tag replies must keep
//!     "title": "...",
//!     "status": "new",                         // domain status code, not translated
//!     "priority": "normal"                     // domain priority code, not translated
//!   },
//!   "recipient": { "name": "Alice Martin", "address": "alice@..." },   // name may be null
//!   "original_subject": "...",   // subject of the mail being answered, without Re:/tag
//!   "body": "...",               // agent_reply only: the agent's text, plain text
//!   "attachments": [             // agent_reply only: the files the mail carries, maybe none
//!     { "filename": "rapport.pdf", "content_type": "application/pdf",
//!       "sha256": "...", "size": 48213 }   // the outbox reads the bytes back by sha256
//!   ],
//!   "author": {                  // new_ticket, requester_reply: who wrote
//!     "name": "Alice Martin",    //   may be null
//!     "address": "alice@...",
//!     "institution": "..."       //   display name, or null when unaffiliated
//!   },
//!   "new_text": "...",           // new_ticket, requester_reply: the mail's new text (quoted
//!                                //   history removed), plain text; for new_ticket, its first
//!                                //   lines, cut by the caller
//!   "status": { "from": "in_progress", "to": "resolved" },   // status_changed: codes; the
//!                                //   templates tell "closed" from anything else (resolved)
//!   "reopen_days": 14,           // status_changed: the offer's reopen window, in days
//!   "assignee": { "name": "..." },   // assigned: the new assignee (also the recipient)
//!   "sla": {                     // sla_warning, sla_breach, escalated
//!     "target": "first_response",    // "first_response" or "resolution" (translated by the
//!                                    //   templates), or a policy's own name, shown as is
//!     "due_at": "2026-12-04 14:00 (Europe/Paris)",   // formatted by the caller
//!     "left": "45 min",          //   business time left (warning) or overdue (breach,
//!                                //   escalated), formatted by the caller
//!     "level": 1                 //   escalation level (escalated; given for all three)
//!   },
//!   "date": "2026-12-03",        // daily_digest: the day it covers
//!   "count": 3,                  // coalesced: how many events the mail tells
//!   "events": [                  // coalesced: each event, oldest first
//!     { "summary": "...",        //   its own template's subject, without the subject tag
//!       "text": "..." }          //   its new_text or body when it has one, else null
//!   ],
//!   "tickets": [                 // daily_digest: the offer's open tickets, maybe none
//!     { "ref": "I-000042", "tag": "[SMSU I-000042]", "title": "...",
//!       "status": "in_progress", "priority": "high",
//!       "sla": "warning" }       //   SLA state: "ok", "warning", "breached" or "none"
//!   ],
//!   "period": { "from": "2026-11-23", "to": "2026-11-29" },   // weekly_report: its days
//!   "figures": { "opened": 12, "resolved": 9, "closed": 7, "backlog": 5,
//!                "first_response_p50": "1 h 30 min", ... },   // weekly_report: durations
//!                                //   formatted by the caller (report_render::duration_text)
//!   "sla": [ { "target": "first_response", "total": 10, "met": 9,
//!              "compliance": "90.0 %" } ],    // weekly_report: clocks decided in the period
//!   "breaches": [ { "level": "L1", "count": 1 } ]   // weekly_report: rungs fired
//! }
//! ```
//!
//! [`Template::sample_context`] builds a complete example; start-up checks every template
//! against it. HTML templates have a helper `{{text_to_html value}}`: it escapes plain text
//! and keeps its paragraphs (blank lines) and line breaks (`<br>`). Both registries have
//! `{{label "fr" code}}`: a status, priority, SLA target or SLA state code in words of the
//! locale (an unknown code, such as a policy's own target name, is shown as is).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::json;

/// The locales that have templates, the default first.
pub const LOCALES: [&str; 2] = ["fr", "en"];

/// The locale used when the asked one has no templates: guichet serves French universities.
pub const DEFAULT_LOCALE: &str = "fr";

/// The events that send mail (issue 8 item 3); who receives each is
/// [`crate::domain::audience`]'s choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// Acknowledgement to the requester when a ticket is opened.
    TicketCreated,
    /// Notice to the offer's agents when a ticket is opened: who wrote, from where, what.
    NewTicket,
    /// Polite refusal to an unknown sender (offer policy `refuse`).
    SenderRefused,
    /// An agent's reply, sent to the requester.
    AgentReply,
    /// The requester's (or a participant's) new text, sent to the assignee or the agents.
    RequesterReply,
    /// The ticket was resolved (how to reopen it) or closed, sent to the requester.
    StatusChanged,
    /// The ticket was assigned, sent to the new assignee.
    Assigned,
    /// A service level nears its deadline.
    SlaWarning,
    /// A service level is past its deadline.
    SlaBreach,
    /// An escalation level fired.
    Escalated,
    /// The open tickets of an offer, once a day, to its team.
    DailyDigest,
    /// Last week's figures of an offer (opened, resolved, times, service levels), to its
    /// governance contacts.
    WeeklyReport,
    /// Several notifications about one ticket to the same people within
    /// `mail.coalesce_minutes`, as one mail: each event's own subject, and its text when it
    /// has one (`service::outbox` builds the context from the events' own).
    Coalesced,
}

impl Template {
    /// Every template, in the order of issue 8's list.
    pub const ALL: [Template; 13] = [
        Self::TicketCreated,
        Self::NewTicket,
        Self::SenderRefused,
        Self::AgentReply,
        Self::RequesterReply,
        Self::StatusChanged,
        Self::Assigned,
        Self::SlaWarning,
        Self::SlaBreach,
        Self::Escalated,
        Self::DailyDigest,
        Self::WeeklyReport,
        Self::Coalesced,
    ];

    /// The template's folder under `templates/`, also the name stored in outbox rows.
    pub fn name(self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket_created",
            Self::NewTicket => "new_ticket",
            Self::SenderRefused => "sender_refused",
            Self::AgentReply => "agent_reply",
            Self::RequesterReply => "requester_reply",
            Self::StatusChanged => "status_changed",
            Self::Assigned => "assigned",
            Self::SlaWarning => "sla_warning",
            Self::SlaBreach => "sla_breach",
            Self::Escalated => "escalated",
            Self::DailyDigest => "daily_digest",
            Self::WeeklyReport => "weekly_report",
            Self::Coalesced => "coalesced",
        }
    }

    /// The template named `name` (see [`Template::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the mail is about one ticket (has `ticket` in its context): all but the
    /// refusal (no ticket was opened), the digest and the report (many tickets).
    fn has_ticket(self) -> bool {
        !matches!(
            self,
            Self::SenderRefused | Self::DailyDigest | Self::WeeklyReport
        )
    }

    /// Whether the reader is an agent of the offer rather than the requester: it decides the
    /// sample recipient.
    fn for_agents(self) -> bool {
        !matches!(
            self,
            Self::TicketCreated
                | Self::SenderRefused
                | Self::AgentReply
                | Self::StatusChanged
                | Self::Coalesced
        )
    }

    /// A complete context for this template, with made-up values: what start-up checks every
    /// template against, and what a preview can render.
    pub fn sample_context(self) -> serde_json::Value {
        let mut ctx = json!({
            "offer": {
                "code": "SMSU",
                "name": "SMS Universitaire",
                "support_address": "support-smsu@esup-portail.org",
            },
            "recipient": { "name": "Alice Martin", "address": "alice.martin@univ-exemple.fr" },
            "original_subject": "Les SMS ne partent plus",
        });
        if self.for_agents() {
            ctx["recipient"] =
                json!({ "name": "Bruno Lefèvre", "address": "bruno.lefevre@esup-portail.org" });
        }
        if self.has_ticket() {
            ctx["ticket"] = json!({
                "ref": "I-000042",
                "tag": "[SMSU I-000042]",
                "title": "Les SMS ne partent plus",
                "status": "new",
                "priority": "normal",
            });
        }
        match self {
            Self::AgentReply => {
                ctx["body"] = json!(
                    "Bonjour,\n\nLe quota de votre établissement était atteint ; il a été relevé.\n\nCordialement,\nBruno"
                );
            }
            Self::NewTicket | Self::RequesterReply => {
                ctx["author"] = json!({
                    "name": "Alice Martin",
                    "address": "alice.martin@univ-exemple.fr",
                    "institution": "Université Exemple",
                });
                ctx["new_text"] = json!(
                    "Bonjour,\n\nDepuis ce matin, aucun SMS ne part de notre plateforme.\nMerci de votre aide."
                );
            }
            Self::StatusChanged => {
                ctx["ticket"]["status"] = json!("resolved");
                ctx["status"] = json!({ "from": "in_progress", "to": "resolved" });
                ctx["reopen_days"] = json!(14);
            }
            Self::Assigned => {
                ctx["ticket"]["status"] = json!("assigned");
                ctx["assignee"] = json!({ "name": "Bruno Lefèvre" });
            }
            Self::SlaWarning | Self::SlaBreach | Self::Escalated => {
                let breached = self != Self::SlaWarning;
                ctx["sla"] = json!({
                    "target": "first_response",
                    "due_at": "2026-12-04 14:00 (Europe/Paris)",
                    "left": if breached { "1 h 30 min" } else { "45 min" },
                    "level": 1,
                });
            }
            Self::DailyDigest => {
                ctx["date"] = json!("2026-12-03");
                ctx["tickets"] = json!([
                    {
                        "ref": "I-000042",
                        "tag": "[SMSU I-000042]",
                        "title": "Les SMS ne partent plus",
                        "status": "in_progress",
                        "priority": "high",
                        "sla": "warning",
                    },
                    {
                        "ref": "R-000043",
                        "tag": "[SMSU R-000043]",
                        "title": "Ajout d'un expéditeur",
                        "status": "new",
                        "priority": "normal",
                        "sla": "ok",
                    },
                ]);
            }
            Self::WeeklyReport => {
                ctx["period"] = json!({ "from": "2026-11-23", "to": "2026-11-29" });
                ctx["figures"] = json!({
                    "opened": 12,
                    "resolved": 9,
                    "closed": 7,
                    "backlog": 5,
                    "first_response_p50": "1 h 30 min",
                    "first_response_p90": "3 h 00 min",
                    "resolution_p50": "6 h 00 min",
                    "resolution_p90": "28 h 00 min",
                });
                ctx["sla"] = json!([
                    { "target": "first_response", "total": 10, "met": 9, "compliance": "90.0 %" },
                    { "target": "resolution", "total": 9, "met": 9, "compliance": "100.0 %" },
                ]);
                ctx["breaches"] = json!([
                    { "level": "breach", "count": 1 },
                    { "level": "L1", "count": 1 },
                ]);
            }
            Self::Coalesced => {
                ctx["ticket"]["status"] = json!("in_progress");
                ctx["count"] = json!(2);
                ctx["events"] = json!([
                    { "summary": "Demande attribuée : Les SMS ne partent plus", "text": null },
                    {
                        "summary": "Nouveau message : Les SMS ne partent plus",
                        "text": "Bonjour,\n\nLe problème continue cet après-midi.",
                    },
                ]);
            }
            Self::TicketCreated | Self::SenderRefused => {}
        }
        ctx
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A rendered mail, ready for addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line, no line break.
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A template file cannot be read, compiled or checked; the first field names the file.
    #[error("template {0}: {1}")]
    Template(String, String),
    /// Rendering failed (a context without a variable the template uses); the first field
    /// names the template as `<event>/<locale>/<part>`.
    #[error("cannot render {0}: {1}")]
    Render(String, String),
    /// An offer's own templates (`offers[].templates_dir`) are wrong; the first field is the
    /// offer's code.
    #[error("offer {0}: {1}")]
    Offer(String, Box<NotifyError>),
}

/// The three files of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    const ALL: [Part; 3] = [Self::Subject, Self::Text, Self::Html];

    fn file(self) -> &'static str {
        match self {
            Self::Subject => "subject.txt",
            Self::Text => "body.txt",
            Self::Html => "body.html",
        }
    }
}

/// The name a part is registered under: `ticket_created/fr/body.html`.
fn key(template: Template, locale: &str, part: Part) -> String {
    format!("{}/{locale}/{}", template.name(), part.file())
}

/// The built-in source of a part, compiled into the binary.
fn built_in(template: Template, locale: &str, part: Part) -> Option<&'static str> {
    macro_rules! parts {
        ($event:literal, $locale:literal) => {
            match part {
                Part::Subject => include_str!(concat!(
                    "../../templates/",
                    $event,
                    "/",
                    $locale,
                    "/subject.txt.hbs"
                )),
                Part::Text => include_str!(concat!(
                    "../../templates/",
                    $event,
                    "/",
                    $locale,
                    "/body.txt.hbs"
                )),
                Part::Html => include_str!(concat!(
                    "../../templates/",
                    $event,
                    "/",
                    $locale,
                    "/body.html.hbs"
                )),
            }
        };
    }
    Some(match (template, locale) {
        (Template::TicketCreated, "fr") => parts!("ticket_created", "fr"),
        (Template::TicketCreated, "en") => parts!("ticket_created", "en"),
        (Template::NewTicket, "fr") => parts!("new_ticket", "fr"),
        (Template::NewTicket, "en") => parts!("new_ticket", "en"),
        (Template::SenderRefused, "fr") => parts!("sender_refused", "fr"),
        (Template::SenderRefused, "en") => parts!("sender_refused", "en"),
        (Template::AgentReply, "fr") => parts!("agent_reply", "fr"),
        (Template::AgentReply, "en") => parts!("agent_reply", "en"),
        (Template::RequesterReply, "fr") => parts!("requester_reply", "fr"),
        (Template::RequesterReply, "en") => parts!("requester_reply", "en"),
        (Template::StatusChanged, "fr") => parts!("status_changed", "fr"),
        (Template::StatusChanged, "en") => parts!("status_changed", "en"),
        (Template::Assigned, "fr") => parts!("assigned", "fr"),
        (Template::Assigned, "en") => parts!("assigned", "en"),
        (Template::SlaWarning, "fr") => parts!("sla_warning", "fr"),
        (Template::SlaWarning, "en") => parts!("sla_warning", "en"),
        (Template::SlaBreach, "fr") => parts!("sla_breach", "fr"),
        (Template::SlaBreach, "en") => parts!("sla_breach", "en"),
        (Template::Escalated, "fr") => parts!("escalated", "fr"),
        (Template::Escalated, "en") => parts!("escalated", "en"),
        (Template::DailyDigest, "fr") => parts!("daily_digest", "fr"),
        (Template::DailyDigest, "en") => parts!("daily_digest", "en"),
        (Template::WeeklyReport, "fr") => parts!("weekly_report", "fr"),
        (Template::WeeklyReport, "en") => parts!("weekly_report", "en"),
        (Template::Coalesced, "fr") => parts!("coalesced", "fr"),
        (Template::Coalesced, "en") => parts!("coalesced", "en"),
        _ => return None,
    })
}

/// The partials every body may include, as `{{> partials/<locale>/<name>}}`: the same name
/// in both registries, from `<name>.txt.hbs` in the plain one and `<name>.html.hbs` in the
/// HTML one, so that one include line serves the text and the HTML body alike.
pub const PARTIALS: [&str; 2] = ["ticket_summary", "signature"];

/// The template whose sample context a partial is checked against on its own: one about a
/// ticket, as `ticket_summary` needs. (Every template including it is checked after.)
const PARTIAL_CHECK: Template = Template::NewTicket;

/// The name a partial is registered (and included) under: `partials/fr/signature`.
fn partial_key(name: &str, locale: &str) -> String {
    format!("partials/{locale}/{name}")
}

/// A partial's file under `templates/` (and the override directory):
/// `partials/fr/signature.html.hbs`. Subjects have no partials.
fn partial_path(name: &str, locale: &str, part: Part) -> PathBuf {
    let extension = if part == Part::Html { "html" } else { "txt" };
    ["partials", locale, &format!("{name}.{extension}.hbs")]
        .iter()
        .collect()
}

/// The built-in source of a partial, compiled into the binary.
fn built_in_partial(name: &str, locale: &str, part: Part) -> Option<&'static str> {
    macro_rules! partial {
        ($name:literal, $locale:literal) => {
            if part == Part::Html {
                include_str!(concat!(
                    "../../templates/partials/",
                    $locale,
                    "/",
                    $name,
                    ".html.hbs"
                ))
            } else {
                include_str!(concat!(
                    "../../templates/partials/",
                    $locale,
                    "/",
                    $name,
                    ".txt.hbs"
                ))
            }
        };
    }
    Some(match (name, locale) {
        ("ticket_summary", "fr") => partial!("ticket_summary", "fr"),
        ("ticket_summary", "en") => partial!("ticket_summary", "en"),
        ("signature", "fr") => partial!("signature", "fr"),
        ("signature", "en") => partial!("signature", "en"),
        _ => return None,
    })
}

/// Renders the templates. Built once at start-up, then shared (`Arc<Notifier>`).
pub struct Notifier {
    /// HTML parts: every `{{value}}` is HTML-escaped.
    html: Handlebars<'static>,
    /// Subjects and text parts: nothing is escaped (a `<` in a title stays a `<`).
    plain: Handlebars<'static>,
    /// The templates of the offers that have their own override directory, by offer code;
    /// each of them has no `offers` of its own.
    offers: HashMap<String, Notifier>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Loads the built-in templates, replaced by the files found in `override_dir`, and
    /// checks each one by rendering it with [`Template::sample_context`].
    pub fn new(override_dir: Option<&Path>) -> Result<Self, NotifyError> {
        Self::layered(override_dir.as_slice())
    }

    /// The templates of `config`: the global override directory (`mail.templates_dir`) over
    /// the built-in templates, and for each offer with its own (`offers[].templates_dir`),
    /// that directory over both. Every set is checked as [`Notifier::new`] checks one.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, NotifyError> {
        let global = config.mail.templates_dir.as_deref();
        let mut notifier = Self::new(global)?;
        for offer in &config.offers {
            let Some(dir) = offer.templates_dir.as_deref() else {
                continue;
            };
            let dirs: Vec<&Path> = [Some(dir), global].into_iter().flatten().collect();
            let templates = Self::layered(&dirs)
                .map_err(|e| NotifyError::Offer(offer.code.as_str().to_owned(), Box::new(e)))?;
            notifier
                .offers
                .insert(offer.code.as_str().to_owned(), templates);
        }
        Ok(notifier)
    }

    /// The templates mail of the offer `code` renders with: its own if it has an override
    /// directory, else the global ones.
    pub fn for_offer(&self, code: &str) -> &Notifier {
        self.offers.get(code).unwrap_or(self)
    }

    /// Loads the built-in templates, each replaced by the file found first in `override_dirs`
    /// (most specific first), and checks them all.
    fn layered(override_dirs: &[&Path]) -> Result<Self, NotifyError> {
        if let Some(dir) = override_dirs.iter().find(|d| !d.is_dir()) {
            return Err(NotifyError::Template(
                dir.display().to_string(),
                "override directory not found".to_owned(),
            ));
        }
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        html.register_helper("text_to_html", Box::new(text_to_html));
        html.register_helper("label", Box::new(label));
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        plain.register_helper("label", Box::new(label));
        let mut notifier = Self {
            html,
            plain,
            offers: HashMap::new(),
        };

        // Partials first: a template's include is resolved when it renders, and the check
        // below renders every template.
        for locale in LOCALES {
            for name in PARTIALS {
                for part in [Part::Text, Part::Html] {
                    let relative = partial_path(name, locale, part);
                    let (source, origin) = load(
                        override_dirs,
                        &relative,
                        built_in_partial(name, locale, part),
                    )?;
                    let registry = notifier.registry_mut(part);
                    registry
                        .register_partial(&partial_key(name, locale), source)
                        .map_err(|e| NotifyError::Template(origin.clone(), e.to_string()))?;
                    // Checked on its own first, so that a mistake in an overridden partial
                    // names its file rather than the first template that includes it.
                    registry
                        .render_template(
                            &format!("{{{{> {}}}}}", partial_key(name, locale)),
                            &PARTIAL_CHECK.sample_context(),
                        )
                        .map_err(|e| NotifyError::Template(origin, e.to_string()))?;
                }
            }
        }
        // Where each registered part came from, to name it in errors.
        let mut origins = Vec::new();
        for template in Template::ALL {
            for locale in LOCALES {
                for part in Part::ALL {
                    let relative: PathBuf =
                        [template.name(), locale, &format!("{}.hbs", part.file())]
                            .iter()
                            .collect();
                    let (source, origin) =
                        load(override_dirs, &relative, built_in(template, locale, part))?;
                    notifier
                        .registry_mut(part)
                        .register_template_string(&key(template, locale, part), source)
                        .map_err(|e| NotifyError::Template(origin.clone(), e.to_string()))?;
                    origins.push((template, locale, part, origin));
                }
            }
        }
        for (template, locale, part, origin) in origins {
            notifier
                .render_part(template, locale, part, &template.sample_context())
                .map_err(|e| NotifyError::Template(origin, e.to_string()))?;
        }
        Ok(notifier)
    }

    /// Renders `template` in `locale` (or [`DEFAULT_LOCALE`]) with `ctx` (see the module doc
    /// for what it must hold).
    pub fn render(
        &self,
        template: Template,
        locale: &str,
        ctx: &serde_json::Value,
    ) -> Result<Rendered, NotifyError> {
        let locale = Self::locale(locale);
        let render = |part| {
            self.render_part(template, locale, part, ctx)
                .map_err(|e| NotifyError::Render(key(template, locale, part), e.to_string()))
        };
        Ok(Rendered {
            subject: one_line(&render(Part::Subject)?),
            text: render(Part::Text)?,
            html: render(Part::Html)?,
        })
    }

    /// The locale whose templates serve `asked`: its language if it has templates
    /// (`en`, `en-GB`, `EN_us`), else [`DEFAULT_LOCALE`].
    pub fn locale(asked: &str) -> &'static str {
        let language = asked.split(['-', '_']).next().unwrap_or_default().trim();
        LOCALES
            .into_iter()
            .find(|l| l.eq_ignore_ascii_case(language))
            .unwrap_or(DEFAULT_LOCALE)
    }

    fn registry_mut(&mut self, part: Part) -> &mut Handlebars<'static> {
        match part {
            Part::Html => &mut self.html,
            Part::Subject | Part::Text => &mut self.plain,
        }
    }

    fn render_part(
        &self,
        template: Template,
        locale: &str,
        part: Part,
        ctx: &serde_json::Value,
    ) -> Result<String, handlebars::RenderError> {
        let registry = match part {
            Part::Html => &self.html,
            Part::Subject | Part::Text => &self.plain,
        };
        registry.render(&key(template, locale, part), ctx)
    }
}

/// The source of one file (`relative` to `templates/`) and a name for it in errors: the
/// first override file found in `override_dirs`, else `built_in`.
fn load(
    override_dirs: &[&Path],
    relative: &Path,
    built_in: Option<&'static str>,
) -> Result<(String, String), NotifyError> {
    for dir in override_dirs {
        let path = dir.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(source) => return Ok((source, path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(NotifyError::Template(
                    path.display().to_string(),
                    e.to_string(),
                ));
            }
        }
    }
    let origin = format!("built-in {}", relative.display());
    match built_in {
        Some(source) => Ok((source.to_owned(), origin)),
        None => Err(NotifyError::Template(
            origin,
            "no such built-in template".to_owned(),
        )),
    }
}

/// Line breaks (and the spaces around them) become one space; the ends are trimmed. A
/// subject is one header line, and a template file usually ends with a newline.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `{{text_to_html value}}`: plain text as HTML. Escapes it (whatever the braces: the helper
/// writes its own output), makes a `<p>` of each paragraph and a `<br>` of each line break.
fn text_to_html(
    h: &Helper<'_>,
    registry: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("text_to_html", 0))?;
    if registry.strict_mode() && param.is_value_missing() {
        return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
    }
    let text = param.render().replace("\r\n", "\n");
    let mut paragraph: Vec<&str> = Vec::new();
    let mut paragraphs: Vec<String> = Vec::new();
    for line in text.lines().chain([""]) {
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                let lines: Vec<String> = paragraph
                    .iter()
                    .map(|l| handlebars::html_escape(l))
                    .collect();
                paragraphs.push(format!("<p>{}</p>", lines.join("<br>\n")));
                paragraph.clear();
            }
        } else {
            paragraph.push(line);
        }
    }
    out.write(&paragraphs.join("\n"))?;
    Ok(())
}

/// The words for the domain's codes that templates show: statuses, priorities, SLA targets
/// and SLA states, as `(code, fr, en)`. Codes are unique across the four lists.
const LABELS: [(&str, &str, &str); 18] = [
    ("new", "nouvelle", "new"),
    ("assigned", "attribuée", "assigned"),
    ("in_progress", "en cours", "in progress"),
    (
        "waiting_customer",
        "en attente du demandeur",
        "waiting for the requester",
    ),
    ("resolved", "résolue", "resolved"),
    ("closed", "fermée", "closed"),
    ("low", "basse", "low"),
    ("normal", "normale", "normal"),
    ("high", "haute", "high"),
    ("critical", "critique", "critical"),
    ("first_response", "première réponse", "first response"),
    ("resolution", "résolution", "resolution"),
    ("update", "suivi", "update"),
    ("breach", "échéance dépassée", "deadline missed"),
    ("ok", "dans les temps", "on time"),
    ("warning", "échéance proche", "due soon"),
    ("breached", "dépassé", "missed"),
    ("none", "aucun", "none"),
];

/// `{{label "fr" ticket.status}}`: a domain code in words of the locale (see [`LABELS`]); an
/// unknown code (a policy's own target name) is shown as is. Escaped as the registry escapes,
/// since the helper writes its own output.
fn label(
    h: &Helper<'_>,
    registry: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = |i| {
        let p = h
            .param(i)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("label", i))?;
        if registry.strict_mode() && p.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(
                p.relative_path().cloned(),
            ));
        }
        Ok(p.render())
    };
    let (locale, code) = (param(0)?, param(1)?);
    let word = LABELS
        .iter()
        .find(|(c, ..)| *c == code)
        .map_or(
            code.as_str(),
            |(_, fr, en)| if locale == "en" { en } else { fr },
        );
    out.write(&registry.get_escape_fn()(word))?;
    Ok(())
}

#[cfg(test)]
mod tests;
