//! Debian's Chromium, headless, on a page written to a file: its screenshot decoded to pixels,
//! or the DOM it built. Installed by tests/env/install-chromium.sh (tests/run.sh, as root);
//! missing, the test fails, saying so: it never skips.
//!
//! Each run has a fresh profile in a temporary directory, a deadline, and its own process
//! group, killed by its id at the deadline (the browser's renderer and utility processes with
//! it). The flags keep it off the network: this machine's network is closed, and without
//! `--disable-background-networking` and its neighbours Chromium retries its own connections
//! (updates, sync, accounts) and can hang.

use std::io::{BufReader, Read as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A cold start, page load and screenshot take about a second here; this leaves room for a
/// loaded machine (two cores shared by the whole suite).
const DEADLINE: Duration = Duration::from_secs(90);

/// Window width: the report's body is at most 1000 px wide, centred.
pub const WIDTH: u32 = 1200;

/// A screenshot as 8-bit RGB rows.
pub struct Screenshot {
    pub width: usize,
    pub height: usize,
    /// `width * height` pixels, row by row.
    pixels: Vec<[u8; 3]>,
}

impl Screenshot {
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        self.pixels[y * self.width + x]
    }

    pub fn row(&self, y: usize) -> &[[u8; 3]] {
        &self.pixels[y * self.width..(y + 1) * self.width]
    }
}

/// `page` as Chromium shows it in a window `WIDTH` x `height`, and the PNG file it wrote (in
/// `dir`, for a reader to look at).
pub fn screenshot(page: &Path, height: u32, dir: &Path) -> (Screenshot, PathBuf) {
    let shot = dir.join("shot.png");
    run(
        page,
        &[
            &format!("--window-size={WIDTH},{height}"),
            // One CSS pixel, one screenshot pixel, whatever the display would say.
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
        dir,
    );
    (decode(&shot), shot)
}

/// The DOM Chromium built from `page`, serialised (`--dump-dom`).
pub fn dom(page: &Path, dir: &Path) -> String {
    let stdout = run(page, &["--dump-dom"], dir);
    String::from_utf8(stdout).expect("the DOM is UTF-8")
}

/// Runs Chromium headless on `page` with `extra` flags; its stdout. Fails the test when it is
/// not installed, exits with an error, or is still running at the deadline.
fn run(page: &Path, extra: &[&str], dir: &Path) -> Vec<u8> {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is not installed: tests/run.sh installs it when run as root \
         (tests/env/install-chromium.sh); as another user, apt-get install chromium first"
    );
    let profile = tempfile::tempdir_in(dir).expect("profile dir");
    let stdout_file = dir.join("chromium.stdout");
    let stderr_file = dir.join("chromium.stderr");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        // Its scratch files (org.chromium.Chromium.*) in the test's directory, removed with it
        // even when the browser is killed.
        .env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_file).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_file).expect("stderr file"))
        // Its own group: at the deadline the whole browser goes, not only its first process.
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!(
                "chromium {extra:?} still running after {DEADLINE:?}, killed; its stderr:\n{}",
                tail(&stderr_file)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium {extra:?} failed ({status}); its stderr:\n{}",
        tail(&stderr_file)
    );
    std::fs::read(&stdout_file).expect("read chromium's stdout")
}

/// The last lines of a log, for a failure message (Chromium's stderr is chatty: D-Bus).
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn decode(path: &Path) -> Screenshot {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot at {}: {e}", path.display()))
        .read_to_end(&mut bytes)
        .expect("read the screenshot");
    let mut decoder = png::Decoder::new(BufReader::new(std::io::Cursor::new(bytes)));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("an image of sane size")];
    let info = reader.next_frame(&mut buf).expect("decode the screenshot");
    let samples = info.color_type.samples();
    assert!(
        samples >= 3,
        "a colour screenshot, not {:?}",
        info.color_type
    );
    let (width, height) = (info.width as usize, info.height as usize);
    let mut pixels = Vec::with_capacity(width * height);
    for row in buf[..info.buffer_size()].chunks_exact(info.line_size) {
        for p in row[..width * samples].chunks_exact(samples) {
            pixels.push([p[0], p[1], p[2]]);
        }
    }
    Screenshot {
        width,
        height,
        pixels,
    }
}
