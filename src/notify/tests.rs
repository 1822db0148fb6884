//! Tests of the notifier. The snapshots under `snapshots/` are the full expected output of
//! every template and locale for [`Template::sample_context`]; after a deliberate change to a
//! template, rewrite them with `GUICHET_BLESS=1 cargo test --lib notify::` and review the diff.

use std::path::PathBuf;

use serde_json::json;

use super::*;

fn notifier() -> Notifier {
    Notifier::new(None).unwrap()
}

fn snapshot_path(template: Template, locale: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/notify/snapshots")
        .join(format!("{}.{locale}.txt", template.name()))
}

/// The whole rendering as one reviewable text.
fn snapshot(r: &Rendered) -> String {
    format!(
        "subject: {}\n---- text ----\n{}---- html ----\n{}",
        r.subject, r.text, r.html
    )
}

fn assert_snapshot(template: Template, locale: &str) {
    let rendered = notifier()
        .render(template, locale, &template.sample_context())
        .unwrap();
    let got = snapshot(&rendered);
    let path = snapshot_path(template, locale);
    if std::env::var_os("GUICHET_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (GUICHET_BLESS=1 writes it)", path.display()));
    assert_eq!(got, want, "{} differs", path.display());
}

macro_rules! snapshot_tests {
    ($($name:ident: $template:expr, $locale:literal;)*) => {
        $(
            #[test]
            fn $name() {
                assert_snapshot($template, $locale);
            }
        )*
    };
}

snapshot_tests! {
    ticket_created_fr_matches_snapshot: Template::TicketCreated, "fr";
    ticket_created_en_matches_snapshot: Template::TicketCreated, "en";
    sender_refused_fr_matches_snapshot: Template::SenderRefused, "fr";
    sender_refused_en_matches_snapshot: Template::SenderRefused, "en";
    agent_reply_fr_matches_snapshot: Template::AgentReply, "fr";
    agent_reply_en_matches_snapshot: Template::AgentReply, "en";
    new_ticket_fr_matches_snapshot: Template::NewTicket, "fr";
    new_ticket_en_matches_snapshot: Template::NewTicket, "en";
    requester_reply_fr_matches_snapshot: Template::RequesterReply, "fr";
    requester_reply_en_matches_snapshot: Template::RequesterReply, "en";
    status_changed_fr_matches_snapshot: Template::StatusChanged, "fr";
    status_changed_en_matches_snapshot: Template::StatusChanged, "en";
    assigned_fr_matches_snapshot: Template::Assigned, "fr";
    assigned_en_matches_snapshot: Template::Assigned, "en";
    sla_warning_fr_matches_snapshot: Template::SlaWarning, "fr";
    sla_warning_en_matches_snapshot: Template::SlaWarning, "en";
    sla_breach_fr_matches_snapshot: Template::SlaBreach, "fr";
    sla_breach_en_matches_snapshot: Template::SlaBreach, "en";
    escalated_fr_matches_snapshot: Template::Escalated, "fr";
    escalated_en_matches_snapshot: Template::Escalated, "en";
    daily_digest_fr_matches_snapshot: Template::DailyDigest, "fr";
    daily_digest_en_matches_snapshot: Template::DailyDigest, "en";
    weekly_report_fr_matches_snapshot: Template::WeeklyReport, "fr";
    weekly_report_en_matches_snapshot: Template::WeeklyReport, "en";
    coalesced_fr_matches_snapshot: Template::Coalesced, "fr";
    coalesced_en_matches_snapshot: Template::Coalesced, "en";
}

#[test]
fn acknowledgement_gives_ref_and_tag_to_keep() {
    let r = notifier()
        .render(
            Template::TicketCreated,
            "fr",
            &Template::TicketCreated.sample_context(),
        )
        .unwrap();
    assert_eq!(
        r.subject,
        "[SMSU I-000042] Accusé de réception : Les SMS ne partent plus"
    );
    assert!(
        r.text.starts_with("Bonjour Alice Martin,\n\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("sous la référence I-000042."), "{}", r.text);
    assert!(
        r.text
            .contains("conservant la mention [SMSU I-000042] dans l'objet")
    );
    assert!(
        r.html.contains("<strong>[SMSU I-000042]</strong>"),
        "{}",
        r.html
    );
}

#[test]
fn agent_reply_subject_is_a_reply_with_the_tag() {
    let n = notifier();
    for locale in LOCALES {
        let r = n
            .render(
                Template::AgentReply,
                locale,
                &Template::AgentReply.sample_context(),
            )
            .unwrap();
        assert_eq!(r.subject, "Re: [SMSU I-000042] Les SMS ne partent plus");
        assert!(r.text.starts_with("Bonjour,\n\nLe quota"), "{}", r.text);
    }
}

#[test]
fn agent_reply_without_original_subject_uses_the_title() {
    let mut ctx = Template::AgentReply.sample_context();
    ctx["original_subject"] = json!("");
    ctx["ticket"]["title"] = json!("Quota dépassé");
    let r = notifier().render(Template::AgentReply, "fr", &ctx).unwrap();
    assert_eq!(r.subject, "Re: [SMSU I-000042] Quota dépassé");
}

#[test]
fn html_escapes_values_and_text_keeps_them() {
    let n = notifier();
    let mut ctx = Template::AgentReply.sample_context();
    ctx["ticket"]["title"] = json!("<script>alert(1)</script>");
    ctx["original_subject"] = json!("<script>alert(1)</script> & co");
    ctx["body"] = json!("Voici <b>le</b> correctif & la suite.\n<script>alert(2)</script>");
    let r = n.render(Template::AgentReply, "fr", &ctx).unwrap();
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(!r.html.contains("<b>"), "{}", r.html);
    assert!(
        r.html
            .contains("<title>[SMSU I-000042] &lt;script&gt;alert(1)&lt;/script&gt;</title>"),
        "{}",
        r.html
    );
    assert!(
        r.html.contains(
            "<p>Voici &lt;b&gt;le&lt;/b&gt; correctif &amp; la suite.<br>\n\
             &lt;script&gt;alert(2)&lt;/script&gt;</p>"
        ),
        "{}",
        r.html
    );
    assert_eq!(
        r.subject,
        "Re: [SMSU I-000042] <script>alert(1)</script> & co"
    );
    assert!(
        r.text
            .starts_with("Voici <b>le</b> correctif & la suite.\n<script>alert(2)</script>\n"),
        "{}",
        r.text
    );

    let mut ctx = Template::TicketCreated.sample_context();
    ctx["ticket"]["title"] = json!("<script>alert(1)</script>");
    let r = n.render(Template::TicketCreated, "en", &ctx).unwrap();
    assert!(
        r.html
            .contains("<p>Subject: &lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        "{}",
        r.html
    );
    assert!(
        r.text.contains("Subject: <script>alert(1)</script>\n"),
        "{}",
        r.text
    );
}

#[test]
fn text_to_html_keeps_paragraphs_and_line_breaks() {
    let mut ctx = Template::AgentReply.sample_context();
    ctx["body"] = json!("Bonjour,\r\n\r\n\r\nPremière ligne\r\ndeuxième ligne\n  \nMerci");
    let r = notifier().render(Template::AgentReply, "fr", &ctx).unwrap();
    assert!(
        r.html.contains(
            "<p>Bonjour,</p>\n<p>Première ligne<br>\ndeuxième ligne</p>\n<p>Merci</p>\n<hr>"
        ),
        "{}",
        r.html
    );
}

#[test]
fn missing_variable_is_an_error_in_strict_mode() {
    let n = notifier();
    // A ticket template without its ticket: the subject is rendered first.
    let ctx = Template::SenderRefused.sample_context();
    let err = n.render(Template::TicketCreated, "fr", &ctx).unwrap_err();
    match &err {
        NotifyError::Render(name, reason) => {
            assert_eq!(name, "ticket_created/fr/subject.txt");
            assert!(reason.contains("ticket.tag"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }

    // The body of an agent reply, missing from the HTML part's helper too.
    let mut ctx = Template::AgentReply.sample_context();
    ctx.as_object_mut().unwrap().remove("body");
    let err = n.render(Template::AgentReply, "en", &ctx).unwrap_err();
    assert!(
        matches!(&err, NotifyError::Render(name, _) if name == "agent_reply/en/body.txt"),
        "{err}"
    );
    let html_only = Notifier::locale("en");
    let mut ctx = Template::AgentReply.sample_context();
    ctx.as_object_mut().unwrap().remove("body");
    let err = n
        .render_part(Template::AgentReply, html_only, Part::Html, &ctx)
        .unwrap_err();
    assert!(err.to_string().contains("body"), "{err}");
}

#[test]
fn null_recipient_name_greets_without_a_name() {
    let n = notifier();
    let mut ctx = Template::TicketCreated.sample_context();
    ctx["recipient"]["name"] = serde_json::Value::Null;
    let fr = n.render(Template::TicketCreated, "fr", &ctx).unwrap();
    assert!(fr.text.starts_with("Bonjour,\n"), "{}", fr.text);
    assert!(fr.html.contains("<p>Bonjour,</p>"), "{}", fr.html);
    let en = n.render(Template::TicketCreated, "en", &ctx).unwrap();
    assert!(en.text.starts_with("Hello,\n"), "{}", en.text);
}

#[test]
fn subject_is_one_line() {
    let mut ctx = Template::TicketCreated.sample_context();
    ctx["original_subject"] = json!("Panne\r\n  d'envoi\nurgente\r");
    let r = notifier()
        .render(Template::TicketCreated, "fr", &ctx)
        .unwrap();
    assert_eq!(
        r.subject,
        "[SMSU I-000042] Accusé de réception : Panne d'envoi urgente"
    );
}

#[test]
fn empty_original_subject_leaves_no_dangling_colon() {
    let mut ctx = Template::SenderRefused.sample_context();
    ctx["original_subject"] = json!("");
    let n = notifier();
    let fr = n.render(Template::SenderRefused, "fr", &ctx).unwrap();
    assert_eq!(fr.subject, "[SMSU] Message non enregistré");
    let en = n.render(Template::SenderRefused, "en", &ctx).unwrap();
    assert_eq!(en.subject, "[SMSU] Message not registered");
}

#[test]
fn refusal_explains_how_to_get_access() {
    let r = notifier()
        .render(
            Template::SenderRefused,
            "fr",
            &Template::SenderRefused.sample_context(),
        )
        .unwrap();
    assert!(
        r.text
            .contains("Votre adresse alice.martin@univ-exemple.fr ne figure pas")
    );
    assert!(
        r.text
            .contains("adressez-vous au correspondant SMS Universitaire de votre établissement")
    );
    assert!(
        !r.text.contains("I-0"),
        "no ticket in a refusal: {}",
        r.text
    );
}

#[test]
fn unknown_locale_falls_back_to_french() {
    let n = notifier();
    let ctx = Template::TicketCreated.sample_context();
    let fr = n.render(Template::TicketCreated, "fr", &ctx).unwrap();
    let en = n.render(Template::TicketCreated, "en", &ctx).unwrap();
    assert_ne!(fr, en);
    for locale in ["de", "", "klingon", "fr-FR", "FR_fr"] {
        assert_eq!(
            n.render(Template::TicketCreated, locale, &ctx).unwrap(),
            fr,
            "{locale:?}"
        );
    }
    for locale in ["en-GB", "EN", "en_US"] {
        assert_eq!(
            n.render(Template::TicketCreated, locale, &ctx).unwrap(),
            en,
            "{locale:?}"
        );
    }
}

fn write(dir: &Path, relative: &str, source: &str) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, source).unwrap();
    path
}

#[test]
fn override_replaces_only_its_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ticket_created/fr/subject.txt.hbs",
        "{{ticket.tag}} Bien reçu, {{recipient.name}}\n",
    );
    let built_in = notifier();
    let custom = Notifier::new(Some(dir.path())).unwrap();
    let ctx = Template::TicketCreated.sample_context();
    let want = built_in
        .render(Template::TicketCreated, "fr", &ctx)
        .unwrap();
    let got = custom.render(Template::TicketCreated, "fr", &ctx).unwrap();
    assert_eq!(got.subject, "[SMSU I-000042] Bien reçu, Alice Martin");
    assert_eq!(got.text, want.text);
    assert_eq!(got.html, want.html);
    // The English subject is still the built-in one.
    assert_eq!(
        custom.render(Template::TicketCreated, "en", &ctx).unwrap(),
        built_in
            .render(Template::TicketCreated, "en", &ctx)
            .unwrap()
    );
}

#[test]
fn override_html_is_escaped_too() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "agent_reply/en/body.html.hbs",
        "<div>{{ticket.title}}</div>{{text_to_html body}}",
    );
    let n = Notifier::new(Some(dir.path())).unwrap();
    let mut ctx = Template::AgentReply.sample_context();
    ctx["ticket"]["title"] = json!("a<b");
    ctx["body"] = json!("x>y");
    let r = n.render(Template::AgentReply, "en", &ctx).unwrap();
    assert_eq!(r.html, "<div>a&lt;b</div><p>x&gt;y</p>");
}

#[test]
fn broken_override_fails_at_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "sender_refused/en/body.html.hbs",
        "<p>{{#if recipient.name}}Hello</p>\n",
    );
    let err = Notifier::new(Some(dir.path())).unwrap_err();
    match &err {
        NotifyError::Template(file, _) => assert_eq!(file, &path.display().to_string()),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("sender_refused/en/body.html.hbs"),
        "{err}"
    );
}

#[test]
fn override_using_an_unknown_variable_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "ticket_created/en/body.txt.hbs",
        "Your ticket {{ticket.reference}}\n",
    );
    let err = Notifier::new(Some(dir.path())).unwrap_err();
    match &err {
        NotifyError::Template(file, reason) => {
            assert_eq!(file, &path.display().to_string());
            assert!(reason.contains("ticket.reference"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn refusal_override_cannot_use_the_ticket() {
    // There is no ticket for an unknown sender: the check catches a template that assumes one.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sender_refused/fr/subject.txt.hbs",
        "{{ticket.tag}} refus\n",
    );
    assert!(matches!(
        Notifier::new(Some(dir.path())),
        Err(NotifyError::Template(..))
    ));
}

#[test]
fn missing_override_dir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Notifier::new(Some(&missing)).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn empty_override_dir_keeps_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let custom = Notifier::new(Some(dir.path())).unwrap();
    let built_in = notifier();
    for template in Template::ALL {
        for locale in LOCALES {
            let ctx = template.sample_context();
            assert_eq!(
                custom.render(template, locale, &ctx).unwrap(),
                built_in.render(template, locale, &ctx).unwrap()
            );
        }
    }
}

#[test]
fn template_names_round_trip() {
    for t in Template::ALL {
        assert_eq!(Template::from_name(t.name()), Some(t));
        assert_eq!(t.to_string(), t.name());
    }
    assert_eq!(Template::from_name("ticket_closed"), None);
}

#[test]
fn html_parts_are_self_contained() {
    // No remote images, stylesheets or scripts: they would leak the reading to a server.
    let n = notifier();
    for template in Template::ALL {
        for locale in LOCALES {
            let html = n
                .render(template, locale, &template.sample_context())
                .unwrap()
                .html;
            assert!(html.starts_with("<!DOCTYPE html>\n"), "{template} {locale}");
            assert!(html.trim_end().ends_with("</html>"), "{template} {locale}");
            for forbidden in ["<script", "<img", "<link", "http://", "https://", "src="] {
                assert!(
                    !html.contains(forbidden),
                    "{template} {locale}: {forbidden}"
                );
            }
        }
    }
}

#[test]
fn subject_with_markup_and_accents_is_escaped_only_in_html() {
    // A requester's title reaches every ticket template: the subject and text keep it as
    // written, the HTML part escapes it (in the partial too) and keeps the accents.
    let title = "Écran <noir> & clé «usée»";
    let n = notifier();
    for template in Template::ALL.into_iter().filter(|t| t.has_ticket()) {
        for locale in LOCALES {
            let mut ctx = template.sample_context();
            ctx["ticket"]["title"] = json!(title);
            ctx["original_subject"] = json!(title);
            let r = n.render(template, locale, &ctx).unwrap();
            assert!(
                r.subject.contains(title),
                "{template} {locale}: {}",
                r.subject
            );
            assert!(r.text.contains(title) || template == Template::AgentReply);
            assert!(
                r.html.contains("Écran &lt;noir&gt; &amp; clé «usée»"),
                "{template} {locale}: {}",
                r.html
            );
            assert!(!r.html.contains("<noir>"), "{template} {locale}");
        }
    }
}

#[test]
fn digest_lists_escaped_titles_and_says_when_nothing_is_open() {
    let n = notifier();
    let mut ctx = Template::DailyDigest.sample_context();
    ctx["tickets"][0]["title"] = json!("a<b & é");
    let r = n.render(Template::DailyDigest, "en", &ctx).unwrap();
    assert_eq!(r.subject, "[SMSU] Open requests on 2026-12-03: 2");
    assert!(r.text.contains("[SMSU I-000042] a<b & é\n"), "{}", r.text);
    assert!(r.html.contains("<td>a&lt;b &amp; é</td>"), "{}", r.html);

    ctx["tickets"] = json!([]);
    let r = n.render(Template::DailyDigest, "fr", &ctx).unwrap();
    assert_eq!(r.subject, "[SMSU] Demandes ouvertes au 2026-12-03 : 0");
    assert!(r.text.contains("Aucune demande ouverte."), "{}", r.text);
    assert!(
        r.html.contains("<p>Aucune demande ouverte.</p>"),
        "{}",
        r.html
    );
}

#[test]
fn resolved_says_how_to_reopen_and_closed_does_not() {
    let n = notifier();
    let ctx = Template::StatusChanged.sample_context();
    let resolved = n.render(Template::StatusChanged, "fr", &ctx).unwrap();
    assert!(
        resolved.subject.contains("Demande résolue"),
        "{}",
        resolved.subject
    );
    assert!(
        resolved.text.contains("dans les\n14 jours"),
        "{}",
        resolved.text
    );

    let mut ctx = ctx;
    ctx["status"] = json!({ "from": "resolved", "to": "closed" });
    let closed = n.render(Template::StatusChanged, "en", &ctx).unwrap();
    assert!(
        closed.subject.contains("Request closed"),
        "{}",
        closed.subject
    );
    assert!(!closed.text.contains("reopened"), "{}", closed.text);
    assert!(
        closed.text.contains("This request is now closed."),
        "{}",
        closed.text
    );
}

#[test]
fn sla_target_is_translated_and_an_unknown_one_shown_as_is() {
    let n = notifier();
    let mut ctx = Template::SlaBreach.sample_context();
    ctx["sla"]["target"] = json!("resolution");
    let r = n.render(Template::SlaBreach, "en", &ctx).unwrap();
    assert_eq!(
        r.subject,
        "[SMSU I-000042] Deadline missed (resolution): Les SMS ne partent plus"
    );
    ctx["sla"]["target"] = json!("Rétablissement");
    let r = n.render(Template::SlaBreach, "fr", &ctx).unwrap();
    assert!(r.subject.contains("(Rétablissement)"), "{}", r.subject);
}

#[test]
fn partial_override_changes_every_body_that_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "partials/fr/signature.html.hbs",
        "<p>Équipe {{offer.name}} &amp; co</p>\n",
    );
    let n = Notifier::new(Some(dir.path())).unwrap();
    for template in [Template::NewTicket, Template::DailyDigest] {
        let ctx = template.sample_context();
        let fr = n.render(template, "fr", &ctx).unwrap();
        assert!(
            fr.html.contains("<p>Équipe SMS Universitaire &amp; co</p>"),
            "{}",
            fr.html
        );
        // The text signature and the English one stay built in.
        assert!(fr.text.contains("Ce message est envoyé automatiquement"));
        let en = n.render(template, "en", &ctx).unwrap();
        assert_eq!(en, notifier().render(template, "en", &ctx).unwrap());
    }
}

#[test]
fn partial_override_with_an_unknown_variable_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "partials/en/ticket_summary.txt.hbs",
        "{{ticket.reference}}\n",
    );
    let err = Notifier::new(Some(dir.path())).unwrap_err();
    match &err {
        NotifyError::Template(file, reason) => {
            assert!(
                file.ends_with("partials/en/ticket_summary.txt.hbs"),
                "{file}"
            );
            assert!(reason.contains("ticket.reference"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn codes_are_shown_in_words_and_unknown_ones_escaped_in_html() {
    let n = notifier();
    let mut ctx = Template::Escalated.sample_context();
    ctx["ticket"]["status"] = json!("waiting_customer");
    ctx["ticket"]["priority"] = json!("critical");
    let r = n.render(Template::Escalated, "en", &ctx).unwrap();
    assert!(
        r.text
            .contains("Status: waiting for the requester, priority: critical\n"),
        "{}",
        r.text
    );
    ctx["sla"]["target"] = json!("<b>délai</b> & co");
    let r = n.render(Template::Escalated, "fr", &ctx).unwrap();
    assert!(r.text.contains("« <b>délai</b> & co »"), "{}", r.text);
    assert!(
        r.html.contains("&lt;b&gt;délai&lt;/b&gt; &amp; co"),
        "{}",
        r.html
    );
}
