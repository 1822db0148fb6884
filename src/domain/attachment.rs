//! Which attachments are dangerous to open: executables, scripts, installers, shortcuts and
//! macro-enabled Office documents, recognised by their content as well as by their name and
//! declared type, since a sender (or malware) chooses both.
//!
//! Nothing is removed: an agent may need the file (a crash dump, a script a user asks about).
//! The attachment is flagged, with the evidence, so that a display can warn before opening it.
//!
//! The content checks are a handful of signatures read by hand rather than a type-sniffing
//! crate: those crates name a file's type from its first bytes, but what matters here is also
//! inside containers (a `vbaProject.bin` entry in an Office Open XML zip, a `_VBA_PROJECT`
//! stream in an OLE2 document, an `.exe` inside a zip), which none of them reports.

use std::fmt;

/// What kind of danger an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DangerKind {
    /// A program: Windows PE, ELF, Mach-O, an installer package.
    Executable,
    /// A script a double click runs (batch, PowerShell, VBScript, JScript, HTA, shell).
    Script,
    /// An Office document carrying macros.
    Macros,
    /// A Windows shortcut, which can run any command.
    Shortcut,
    /// An archive holding one of the above.
    ArchiveWithExecutable,
}

impl DangerKind {
    /// The words used in the store and in displays.
    pub fn as_str(self) -> &'static str {
        match self {
            DangerKind::Executable => "executable",
            DangerKind::Script => "script",
            DangerKind::Macros => "macro-enabled document",
            DangerKind::Shortcut => "shortcut",
            DangerKind::ArchiveWithExecutable => "archive holding an executable",
        }
    }
}

/// What gave the danger away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The content (a signature), whatever the name says.
    Content(&'static str),
    /// The file name's extension.
    Name(String),
    /// The declared MIME type.
    Type(String),
}

/// A dangerous attachment: what it is and how it was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Danger {
    /// What kind of danger.
    pub kind: DangerKind,
    /// The evidence.
    pub evidence: Evidence,
}

impl fmt::Display for Danger {
    /// `executable (content: Windows PE)`, `macro-enabled document (name: .docm)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str();
        match &self.evidence {
            Evidence::Content(what) => write!(f, "{kind} (content: {what})"),
            Evidence::Name(ext) => write!(f, "{kind} (name: .{ext})"),
            Evidence::Type(t) => write!(f, "{kind} (type: {t})"),
        }
    }
}

/// Extensions that run when opened, by kind. Lower case, without the dot.
const EXTENSIONS: &[(DangerKind, &[&str])] = &[
    (
        DangerKind::Executable,
        &[
            "exe", "com", "scr", "pif", "cpl", "msi", "msp", "mst", "dll", "ocx", "sys", "drv",
            "jar", "appx", "msix", "apk", "app", "gadget", "msc",
        ],
    ),
    (
        DangerKind::Script,
        &[
            "bat", "cmd", "ps1", "psm1", "psd1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta",
            "sh", "reg", "scf", "inf", "sct", "vb",
        ],
    ),
    (
        DangerKind::Macros,
        &[
            "docm", "dotm", "xlsm", "xltm", "xlam", "xlsb", "pptm", "potm", "ppam", "ppsm", "sldm",
        ],
    ),
    (DangerKind::Shortcut, &["lnk", "url", "desktop"]),
];

/// Declared MIME types that are programs or macro documents, by kind.
const TYPES: &[(DangerKind, &[&str])] = &[
    (
        DangerKind::Executable,
        &[
            "application/x-msdownload",
            "application/x-msdos-program",
            "application/x-dosexec",
            "application/x-executable",
            "application/x-msi",
            "application/x-ms-installer",
            "application/java-archive",
            "application/vnd.microsoft.portable-executable",
        ],
    ),
    (
        DangerKind::Script,
        &[
            "application/x-sh",
            "application/x-bat",
            "application/x-msdos-batch",
            "application/javascript",
            "text/javascript",
            "application/x-javascript",
            "text/vbscript",
            "application/hta",
        ],
    ),
    (
        DangerKind::Macros,
        &[
            "application/vnd.ms-word.document.macroenabled.12",
            "application/vnd.ms-word.template.macroenabled.12",
            "application/vnd.ms-excel.sheet.macroenabled.12",
            "application/vnd.ms-excel.template.macroenabled.12",
            "application/vnd.ms-excel.addin.macroenabled.12",
            "application/vnd.ms-excel.sheet.binary.macroenabled.12",
            "application/vnd.ms-powerpoint.presentation.macroenabled.12",
            "application/vnd.ms-powerpoint.slideshow.macroenabled.12",
            "application/vnd.ms-powerpoint.addin.macroenabled.12",
        ],
    ),
    (DangerKind::Shortcut, &["application/x-ms-shortcut"]),
];

/// How many zip entries are looked at: a zip bomb of names must not cost more than this.
const MAX_ZIP_ENTRIES: usize = 10_000;

/// Whether an attachment is dangerous, and why. The content speaks first (it cannot lie about
/// itself), then the name, then the declared type.
pub fn danger(filename: Option<&str>, content_type: &str, data: &[u8]) -> Option<Danger> {
    if let Some((kind, what)) = sniff(data) {
        return Some(Danger {
            kind,
            evidence: Evidence::Content(what),
        });
    }
    if let Some(ext) = filename.and_then(extension)
        && let Some(kind) = kind_of_extension(&ext)
    {
        return Some(Danger {
            kind,
            evidence: Evidence::Name(ext),
        });
    }
    let declared = content_type.trim().to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(_, types)| types.contains(&declared.as_str()))
        .map(|(kind, _)| Danger {
            kind: *kind,
            evidence: Evidence::Type(declared.clone()),
        })
}

/// The last extension of a file name, lower-cased: `facture.pdf.EXE` gives `exe`. Trailing
/// dots and spaces, which Windows drops, are dropped first.
fn extension(name: &str) -> Option<String> {
    let name = name.trim_end_matches(['.', ' ']);
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn kind_of_extension(ext: &str) -> Option<DangerKind> {
    EXTENSIONS
        .iter()
        .find(|(_, exts)| exts.contains(&ext))
        .map(|(kind, _)| *kind)
}

/// The signatures: what the bytes are, whatever the name says.
fn sniff(data: &[u8]) -> Option<(DangerKind, &'static str)> {
    const OLE2: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    const LNK: &[u8] = b"\x4C\x00\x00\x00\x01\x14\x02\x00";
    let executable = |what| Some((DangerKind::Executable, what));
    if data.starts_with(b"MZ") && is_pe(data) {
        return executable("Windows PE");
    }
    if data.starts_with(b"\x7FELF") {
        return executable("ELF");
    }
    if [
        b"\xFE\xED\xFA\xCE",
        b"\xFE\xED\xFA\xCF",
        b"\xCE\xFA\xED\xFE",
        b"\xCF\xFA\xED\xFE",
    ]
    .iter()
    .any(|m| data.starts_with(*m))
    {
        return executable("Mach-O");
    }
    if data.starts_with(LNK) {
        return Some((DangerKind::Shortcut, "Windows shortcut"));
    }
    if data.starts_with(b"#!") {
        return Some((DangerKind::Script, "#! interpreter line"));
    }
    if data.starts_with(OLE2) {
        // The stream names of an OLE2 file are UTF-16LE.
        if contains(data, &utf16le("_VBA_PROJECT")) || contains(data, &utf16le("Macros")) {
            return Some((DangerKind::Macros, "OLE2 document with a VBA project"));
        }
        return None;
    }
    if data.starts_with(b"PK\x03\x04") {
        return sniff_zip(data);
    }
    None
}

/// A real PE image: `MZ`, then at the offset stored at 0x3C, `PE\0\0`. Plain `MZ` starts many
/// harmless texts.
fn is_pe(data: &[u8]) -> bool {
    let Some(at) = data.get(0x3C..0x40) else {
        return false;
    };
    let at = u32::from_le_bytes([at[0], at[1], at[2], at[3]]) as usize;
    at.checked_add(4)
        .and_then(|end| data.get(at..end))
        .is_some_and(|sig| sig == b"PE\0\0")
}

/// Walks a zip's local file headers (`PK\3\4`, name length at 26, name at 30): a macro project
/// inside Office Open XML, or an entry a double click runs.
fn sniff_zip(data: &[u8]) -> Option<(DangerKind, &'static str)> {
    let finder = memchr::memmem::Finder::new(b"PK\x03\x04");
    for at in finder.find_iter(data).take(MAX_ZIP_ENTRIES) {
        let Some(len) = data.get(at + 26..at + 28) else {
            break;
        };
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        let Some(name) = data.get(at + 30..at + 30 + len) else {
            break;
        };
        let name = String::from_utf8_lossy(name);
        if name.to_ascii_lowercase().ends_with("vbaproject.bin") {
            return Some((DangerKind::Macros, "Office document with a VBA project"));
        }
        if let Some(DangerKind::Executable | DangerKind::Script | DangerKind::Shortcut) =
            extension(&name).as_deref().and_then(kind_of_extension)
        {
            return Some((DangerKind::ArchiveWithExecutable, "zip entry that runs"));
        }
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE: `MZ`, the offset of the PE header at 0x3C, `PE\0\0` there.
    fn pe() -> Vec<u8> {
        let mut d = vec![0u8; 0x80];
        d[..2].copy_from_slice(b"MZ");
        d[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        d[0x40..0x44].copy_from_slice(b"PE\0\0");
        d
    }

    /// A zip holding one (empty, stored) entry named `name`.
    fn zip_with(name: &str) -> Vec<u8> {
        let mut d = b"PK\x03\x04".to_vec();
        d.extend_from_slice(&[0u8; 22]);
        d.extend_from_slice(&(name.len() as u16).to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(b"PK\x01\x02 central directory follows");
        d
    }

    fn ole2_with(stream: &str) -> Vec<u8> {
        let mut d = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        d.extend_from_slice(&[0u8; 504]);
        d.extend_from_slice(&utf16le(stream));
        d
    }

    #[test]
    fn dangerous_attachments_are_recognised_with_their_evidence() {
        let pdf = b"%PDF-1.7\n...".to_vec();
        // (case, filename, declared type, data, expected description)
        type Case = (
            &'static str,
            Option<&'static str>,
            &'static str,
            Vec<u8>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "PE named as a PDF",
                Some("facture.pdf"),
                "application/pdf",
                pe(),
                Some("executable (content: Windows PE)"),
            ),
            (
                "PE with no name",
                None,
                "application/octet-stream",
                pe(),
                Some("executable (content: Windows PE)"),
            ),
            (
                "double extension",
                Some("facture.pdf.EXE"),
                "application/pdf",
                pdf.clone(),
                Some("executable (name: .exe)"),
            ),
            (
                "trailing dot that Windows drops",
                Some("run.bat."),
                "text/plain",
                b"@echo off".to_vec(),
                Some("script (name: .bat)"),
            ),
            (
                "ELF",
                Some("outil"),
                "application/octet-stream",
                b"\x7FELF\x02\x01\x01".to_vec(),
                Some("executable (content: ELF)"),
            ),
            (
                "shell script by its #! line",
                Some("notes.txt"),
                "text/plain",
                b"#!/bin/sh\nrm -rf ~".to_vec(),
                Some("script (content: #! interpreter line)"),
            ),
            (
                "docm by name",
                Some("Rapport.DOCM"),
                "application/octet-stream",
                zip_with("word/document.xml"),
                Some("macro-enabled document (name: .docm)"),
            ),
            (
                "docx that carries a VBA project",
                Some("rapport.docx"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                zip_with("word/vbaProject.bin"),
                Some("macro-enabled document (content: Office document with a VBA project)"),
            ),
            (
                "xls with macros (OLE2)",
                Some("budget.xls"),
                "application/vnd.ms-excel",
                ole2_with("_VBA_PROJECT"),
                Some("macro-enabled document (content: OLE2 document with a VBA project)"),
            ),
            (
                "zip holding a script",
                Some("photos.zip"),
                "application/zip",
                zip_with("photos/IMG_0001.jpg.js"),
                Some("archive holding an executable (content: zip entry that runs)"),
            ),
            (
                "shortcut",
                Some("document.pdf"),
                "application/pdf",
                b"\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00".to_vec(),
                Some("shortcut (content: Windows shortcut)"),
            ),
            (
                "declared type only",
                None,
                "Application/X-MSDownload",
                b"not really".to_vec(),
                Some("executable (type: application/x-msdownload)"),
            ),
            ("a PDF", Some("facture.pdf"), "application/pdf", pdf, None),
            (
                "a plain docx",
                Some("rapport.docx"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                zip_with("word/document.xml"),
                None,
            ),
            (
                "an xls without macros",
                Some("budget.xls"),
                "application/vnd.ms-excel",
                ole2_with("Workbook"),
                None,
            ),
            (
                "text starting with MZ",
                Some("mz.txt"),
                "text/plain",
                b"MZ is a text too".to_vec(),
                None,
            ),
            (
                "a zip of images",
                Some("photos.zip"),
                "application/zip",
                zip_with("photos/IMG_0001.jpg"),
                None,
            ),
            ("no name, no type", None, "", Vec::new(), None),
            (
                "truncated zip header",
                Some("a.zip"),
                "application/zip",
                b"PK\x03\x04\x00".to_vec(),
                None,
            ),
        ];
        for (case, name, declared, data, want) in cases {
            let got = danger(name, declared, &data).map(|d| d.to_string());
            assert_eq!(got.as_deref(), want, "{case}");
        }
    }

    #[test]
    fn extensions_are_the_last_one_lower_cased() {
        for (name, want) in [
            ("a.EXE", Some("exe")),
            ("a.tar.gz", Some("gz")),
            ("dir.d\\prog.Exe", Some("exe")),
            ("noext", None),
            ("trailing.", None),
            ("spaced.exe  ", Some("exe")),
            (".bashrc", Some("bashrc")),
        ] {
            assert_eq!(extension(name).as_deref(), want, "{name}");
        }
    }

    proptest::proptest! {
        /// Whatever follows a program's signature, the content gives it away; whatever the
        /// bytes, a zip-looking file is walked without reading out of bounds.
        #[test]
        fn a_signature_decides_whatever_follows(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let program = [pe(), tail.clone()].concat();
            let found = danger(Some("photo.jpg"), "image/jpeg", &program);
            proptest::prop_assert_eq!(found.map(|d| d.kind), Some(DangerKind::Executable));
            let zipish = [b"PK\x03\x04".as_slice(), &tail].concat();
            let found = danger(Some("a.zip"), "application/zip", &zipish);
            proptest::prop_assert!(found.is_none_or(|d| d.evidence != Evidence::Name("zip".into())));
        }
    }
}
