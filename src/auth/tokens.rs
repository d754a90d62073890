//! Session tokens: JWTs signed with HS256 (pinned; the header's `alg` is never trusted),
//! with `exp`, `iss` and `aud` validated. A token names its session (`sid`), so a logout
//! revokes it server-side even before it expires.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "promptlab";
pub const AUDIENCE: &str = "promptlab";

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The session row this token belongs to.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Keys and validation rules, built once from the configured secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Why a token was refused (all become 401 for clients).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Sign a token for a session.
    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub: user,
            sid: session,
            iat: Utc::now().timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    /// Verify signature, algorithm, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        let t = keys().issue(u, s, Utc::now() + Duration::hours(1)).unwrap();
        let c = keys().verify(&t).unwrap();
        assert_eq!((c.sub, c.sid, c.iss.as_str()), (u, s, ISSUER));
    }

    #[test]
    fn expired_forged_and_foreign_tokens_are_refused() {
        let k = keys();
        let old = k
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                Utc::now() - Duration::hours(1),
            )
            .unwrap();
        assert_eq!(k.verify(&old), Err(TokenError::Expired));

        let other = TokenKeys::new(b"another secret that is long enough!!");
        let forged = other
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                Utc::now() + Duration::hours(1),
            )
            .unwrap();
        assert_eq!(k.verify(&forged), Err(TokenError::Invalid));

        // Right key, wrong audience.
        let claims = Claims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            iat: 0,
            exp: (Utc::now() + Duration::hours(1)).timestamp(),
            iss: ISSUER.into(),
            aud: "someone-else".into(),
        };
        let t = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(k.verify(&t), Err(TokenError::Invalid));

        // `alg: none` and garbage.
        let parts: Vec<&str> = old.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        assert_eq!(
            k.verify(&format!("{none_header}.{}.", parts[1])),
            Err(TokenError::Invalid)
        );
        assert_eq!(k.verify("not.a.token"), Err(TokenError::Invalid));
        assert_eq!(k.verify(""), Err(TokenError::Invalid));
    }
}
