//! The OAuth2 access token of an XOAUTH2 login (IMAP and SMTP alike), read anew when asked,
//! so that an operator's refresher can rotate it: the content of a file, or what a command
//! prints. Errors name the file or say the command failed, never the token, nor what the
//! command wrote to stderr (a refresher may print secrets there).

use crate::config::TokenSource;

/// The token `source` gives now, trimmed; an error in words fit for a log line.
pub async fn read_token(source: &TokenSource) -> Result<String, String> {
    let token = match source {
        TokenSource::File(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("cannot read oauth2_token_file {}: {e}", path.display()))?,
        TokenSource::Command(command) => {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("cannot run oauth2_token_command: {e}"))?;
            if !out.status.success() {
                return Err(format!("oauth2_token_command failed ({})", out.status));
            }
            String::from_utf8(out.stdout)
                .map_err(|_| "oauth2_token_command printed no UTF-8 token".to_owned())?
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err("the OAuth2 access token is empty".to_owned());
    }
    Ok(token)
}
