//! Accounts: who a user is and the validated inputs that create or authenticate one.
//!
//! The parsing here is wasm-safe and runs in the browser too (instant form feedback) and
//! again on the server (the only check that counts). Storage, hashing and tokens live in
//! the `ssr`-only `service` module next door; nothing here touches I/O.

use crate::error::{Error, Result};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub mod service;

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in bytes: hashing cost must stay bounded.
pub const PASSWORD_MAX_BYTES: usize = 1024;
/// Longest accepted email address (RFC 5321 path limit).
pub const EMAIL_MAX_BYTES: usize = 254;
/// Longest accepted display name, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// A syntactically valid, normalised (trimmed, lower-cased) email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let email = raw.trim().to_lowercase();
        let invalid =
            || Error::invalid_field("email", "email_invalid", "enter a valid email address");
        if email.is_empty()
            || email.len() > EMAIL_MAX_BYTES
            || email.chars().any(char::is_whitespace)
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A display name: trimmed, non-empty, at most [`NAME_MAX_CHARS`], no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Error::invalid_field(
                "name",
                "name_required",
                "enter your name",
            ));
        }
        if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(Error::invalid_field(
                "name",
                "name_invalid",
                format!("a name has at most {NAME_MAX_CHARS} characters and no control characters"),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<UserName> for String {
    fn from(value: UserName) -> Self {
        value.0
    }
}

/// A new password that meets the policy. Never serialised, never logged.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.chars().count() < PASSWORD_MIN_CHARS {
            return Err(Error::invalid_field(
                "password",
                "password_too_short",
                format!("a password has at least {PASSWORD_MIN_CHARS} characters"),
            ));
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(Error::invalid_field(
                "password",
                "password_too_long",
                format!("a password has at most {PASSWORD_MAX_BYTES} bytes"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// What a client sends to register.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub name: String,
    pub password: String,
}

/// A registration request that passed validation.
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub name: UserName,
    pub password: NewPassword,
}

impl RegisterRequest {
    /// Validate every field; the first invalid one is reported.
    pub fn validate(&self) -> Result<Registration> {
        Ok(Registration {
            email: Email::parse(&self.email)?,
            name: UserName::parse(&self.name)?,
            password: NewPassword::parse(&self.password)?,
        })
    }
}

/// What a client sends to log in. Only bounded, not validated: a login never says which
/// part was wrong.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A user as clients see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// The signed-in user and the projects they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub projects: Vec<Project>,
}

/// Answer to a successful register or login through the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn bad_emails_are_rejected_with_the_field() {
        for bad in [
            "", "ada", "ada@", "@x.io", "a@b", "a@@b.io", "a b@c.io", "a@.io", "a@io.", "a@x..io",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("email"), "{bad}");
            assert_eq!(err.reason(), Some("email_invalid"));
        }
        assert!(Email::parse(&format!("{}@x.io", "a".repeat(300))).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            UserName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(
            UserName::parse("   ").unwrap_err().reason(),
            Some("name_required")
        );
        assert_eq!(
            UserName::parse("a\u{7}b").unwrap_err().reason(),
            Some("name_invalid")
        );
        assert!(UserName::parse(&"x".repeat(101)).is_err());
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn passwords() {
        assert_eq!(
            NewPassword::parse("1234567").unwrap_err().reason(),
            Some("password_too_short")
        );
        assert!(NewPassword::parse("12345678").is_ok());
        assert!(
            NewPassword::parse("ééééééé").is_err(),
            "counted in characters"
        );
        assert!(NewPassword::parse(&"x".repeat(2000)).is_err());
        assert!(
            !format!("{:?}", NewPassword::parse("secret-password").unwrap()).contains("secret")
        );
    }

    #[test]
    fn email_deserialisation_validates() {
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        let e: Email = serde_json::from_str("\"A@b.io\"").unwrap();
        assert_eq!(e.as_str(), "a@b.io");
    }
}
