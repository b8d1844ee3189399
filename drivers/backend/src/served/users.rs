//! Who may log in: the [`Authenticator`] trait every driver asks, and
//! [`UserDb`], a fixed table of users with plain or argon2-hashed passwords
//! and optional read-only anonymous access (RFC 1635).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use ftpwire_core::server::LoginOutcome;
use subtle::ConstantTimeEq;

use super::storage::Storage;

/// Decides a login. Called on the session's own thread (std) or a blocking
/// pool (async drivers), so a slow check such as argon2 blocks nobody else.
///
/// ```
/// use ftpwire_backend::Authenticator;
/// use ftpwire_core::server::LoginOutcome;
///
/// /// Everyone may read; nobody may write.
/// struct OpenHouse;
/// impl Authenticator for OpenHouse {
///     fn authenticate(&self, _user: &[u8], _password: &[u8]) -> LoginOutcome {
///         LoginOutcome::Accepted { read_only: true }
///     }
/// }
/// assert_eq!(OpenHouse.authenticate(b"x", b"y"), LoginOutcome::Accepted { read_only: true });
/// ```
pub trait Authenticator: Send + Sync {
    /// Checks `password` for `user` (both bytes as the client sent them).
    fn authenticate(&self, user: &[u8], password: &[u8]) -> LoginOutcome;

    /// Where `user`'s files are when they are not the server's storage (an
    /// S3 user's own key prefix): asked once `user`'s login is accepted,
    /// and that session works in it until its next accepted login. `None`
    /// (the default): the server's storage.
    fn home(&self, user: &[u8]) -> Option<Arc<dyn Storage>> {
        let _ = user;
        None
    }
}

/// A password as it is stored.
#[derive(Clone)]
pub enum Password {
    /// Compared in constant time (for a given length).
    Plain(Vec<u8>),
    /// An argon2 PHC string (`$argon2id$v=19$m=...`), checked with the
    /// parameters it carries.
    Argon2(String),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even a hashed one.
        match self {
            Password::Plain(_) => f.write_str("Password::Plain(..)"),
            Password::Argon2(_) => f.write_str("Password::Argon2(..)"),
        }
    }
}

/// A `password_hash` that is not something this server can check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an argon2 PHC string ({reason}); create one with e.g. `argon2 SALT -id -e`")]
pub struct HashError {
    reason: String,
}

impl Password {
    /// An argon2 hash in PHC string format, validated now so a typo fails at
    /// start rather than at every login.
    pub fn argon2(phc: &str) -> Result<Password, HashError> {
        let hash = PasswordHash::new(phc).map_err(|e| HashError {
            reason: e.to_string(),
        })?;
        if hash.hash.is_none() || hash.salt.is_none() {
            return Err(HashError {
                reason: "it has no salt or no hash part".to_owned(),
            });
        }
        if !hash.algorithm.as_str().starts_with("argon2") {
            return Err(HashError {
                reason: format!("algorithm is {}", hash.algorithm),
            });
        }
        Ok(Password::Argon2(phc.to_owned()))
    }

    /// Whether `attempt` is this password.
    pub fn verify(&self, attempt: &[u8]) -> bool {
        match self {
            Password::Plain(expected) => bool::from(expected.as_slice().ct_eq(attempt)),
            Password::Argon2(phc) => PasswordHash::new(phc).is_ok_and(|hash| {
                argon2::Argon2::default()
                    .verify_password(attempt, &hash)
                    .is_ok()
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct User {
    password: Password,
    read_only: bool,
}

/// A fixed set of users, plus optional anonymous read-only access.
///
/// ```
/// use ftpwire_backend::{Authenticator, Password, UserDb};
/// use ftpwire_core::server::LoginOutcome;
///
/// let mut users = UserDb::new();
/// users.add(b"alice", Password::Plain(b"s3cret".to_vec()), false);
/// users.allow_anonymous(true);
/// assert_eq!(users.authenticate(b"alice", b"s3cret"), LoginOutcome::Accepted { read_only: false });
/// assert_eq!(users.authenticate(b"alice", b"guess"), LoginOutcome::Rejected);
/// assert_eq!(users.authenticate(b"anonymous", b"me@example.com"), LoginOutcome::Accepted { read_only: true });
/// ```
#[derive(Clone, Default)]
pub struct UserDb {
    users: HashMap<Vec<u8>, User>,
    anonymous: bool,
    /// Users whose files are not the server's storage.
    homes: HashMap<Vec<u8>, Arc<dyn Storage>>,
}

impl fmt::Debug for UserDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut homes: Vec<_> = self
            .homes
            .keys()
            .map(|k| String::from_utf8_lossy(k))
            .collect();
        homes.sort();
        f.debug_struct("UserDb")
            .field("users", &self.users)
            .field("anonymous", &self.anonymous)
            .field("homes", &homes)
            .finish()
    }
}

/// A valid argon2id hash (default parameters) whose password does not
/// matter, since its verdict is ignored: unknown users are checked against it when hashed users exist, so the time a wrong login
/// takes does not tell whether the user exists.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZnR3aXJlLWRlY295LXNhbHQ$Jd6JU45hiC9KUjVhOvih8zQCm+lFYoTCQsiuWySmDNw";

impl UserDb {
    /// No users, no anonymous access: every login is rejected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the user `name`. A `read_only` user gets `550` for
    /// every command that writes.
    pub fn add(&mut self, name: &[u8], password: Password, read_only: bool) {
        self.users.insert(
            name.to_vec(),
            User {
                password,
                read_only,
            },
        );
    }

    /// Gives the user `name` files of their own, `home`, instead of the
    /// server's storage ([`Authenticator::home`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ftpwire_backend::{Authenticator, LocalFs, Password, Storage, UserDb};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut users = UserDb::new();
    /// users.add(b"bob", Password::Plain(b"pw".to_vec()), false);
    /// users.set_home(b"bob", Arc::new(LocalFs::new(dir.path()).unwrap()));
    /// assert!(users.home(b"bob").is_some());
    /// assert!(users.home(b"alice").is_none());
    /// ```
    pub fn set_home(&mut self, name: &[u8], home: Arc<dyn Storage>) {
        self.homes.insert(name.to_vec(), home);
    }

    /// Lets `anonymous` and `ftp` log in read-only with any password (a
    /// configured user of either name keeps its own password).
    pub fn allow_anonymous(&mut self, allow: bool) {
        self.anonymous = allow;
    }

    /// Whether anonymous logins are accepted.
    pub fn anonymous_allowed(&self) -> bool {
        self.anonymous
    }

    /// How many named users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no named users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl Authenticator for UserDb {
    fn authenticate(&self, user: &[u8], password: &[u8]) -> LoginOutcome {
        if let Some(known) = self.users.get(user) {
            return if known.password.verify(password) {
                LoginOutcome::Accepted {
                    read_only: known.read_only,
                }
            } else {
                LoginOutcome::Rejected
            };
        }
        if self.anonymous
            && (user.eq_ignore_ascii_case(b"anonymous") || user.eq_ignore_ascii_case(b"ftp"))
        {
            return LoginOutcome::Accepted { read_only: true };
        }
        if self
            .users
            .values()
            .any(|u| matches!(u.password, Password::Argon2(_)))
        {
            Password::Argon2(DECOY_HASH.to_owned()).verify(password);
        }
        LoginOutcome::Rejected
    }

    fn home(&self, user: &[u8]) -> Option<Arc<dyn Storage>> {
        // Only a named user has one (never `anonymous` by case folding).
        self.homes.get(user).cloned()
    }
}

impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    fn authenticate(&self, user: &[u8], password: &[u8]) -> LoginOutcome {
        (**self).authenticate(user, password)
    }

    fn home(&self, user: &[u8]) -> Option<Arc<dyn Storage>> {
        (**self).home(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // argon2id hash of "correct horse" (m=19456, t=2, p=1), made for these tests.
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$sDq4SJydHwxWnLTlXqq5ZzNDfmXrJUlaeTohxQaFrio";

    const RW: LoginOutcome = LoginOutcome::Accepted { read_only: false };
    const RO: LoginOutcome = LoginOutcome::Accepted { read_only: true };

    #[test]
    fn plain_passwords_must_match_exactly() {
        let mut db = UserDb::new();
        db.add(b"alice", Password::Plain(b"pw".to_vec()), false);
        assert_eq!(db.authenticate(b"alice", b"pw"), RW);
        assert_eq!(db.authenticate(b"alice", b"pw "), LoginOutcome::Rejected);
        assert_eq!(db.authenticate(b"alice", b"p"), LoginOutcome::Rejected);
        assert_eq!(db.authenticate(b"alice", b""), LoginOutcome::Rejected);
        assert_eq!(db.authenticate(b"Alice", b"pw"), LoginOutcome::Rejected);
        assert_eq!(db.authenticate(b"bob", b"pw"), LoginOutcome::Rejected);
    }

    #[test]
    fn argon2_hashes_verify() {
        let mut db = UserDb::new();
        db.add(b"carol", Password::argon2(HASH).unwrap(), false);
        assert_eq!(db.authenticate(b"carol", b"correct horse"), RW);
        assert_eq!(
            db.authenticate(b"carol", b"wrong horse"),
            LoginOutcome::Rejected
        );
        assert_eq!(
            db.authenticate(b"nobody", b"correct horse"),
            LoginOutcome::Rejected
        );
    }

    #[test]
    fn the_decoy_hash_is_a_valid_argon2_hash() {
        assert!(Password::argon2(DECOY_HASH).is_ok());
    }

    #[test]
    fn malformed_or_foreign_hashes_are_refused_up_front() {
        assert!(Password::argon2("secret").is_err());
        assert!(Password::argon2("$argon2id$v=19$m=19456").is_err());
        let bcrypt_like = "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo";
        assert!(
            Password::argon2(bcrypt_like)
                .unwrap_err()
                .to_string()
                .contains("pbkdf2")
        );
    }

    #[test]
    fn anonymous_is_read_only_with_any_password_and_only_when_allowed() {
        let mut db = UserDb::new();
        assert_eq!(db.authenticate(b"anonymous", b"x"), LoginOutcome::Rejected);
        db.allow_anonymous(true);
        assert_eq!(db.authenticate(b"anonymous", b"x"), RO);
        assert_eq!(db.authenticate(b"ANONYMOUS", b""), RO);
        assert_eq!(db.authenticate(b"ftp", b"me@host"), RO);
        assert_eq!(db.authenticate(b"guest", b"x"), LoginOutcome::Rejected);
    }

    #[test]
    fn a_configured_ftp_user_keeps_its_password() {
        let mut db = UserDb::new();
        db.allow_anonymous(true);
        db.add(b"ftp", Password::Plain(b"pw".to_vec()), false);
        assert_eq!(db.authenticate(b"ftp", b"pw"), RW);
        assert_eq!(db.authenticate(b"ftp", b"other"), LoginOutcome::Rejected);
    }

    #[test]
    fn read_only_users_log_in_read_only() {
        let mut db = UserDb::new();
        db.add(b"viewer", Password::Plain(b"pw".to_vec()), true);
        assert_eq!(db.authenticate(b"viewer", b"pw"), RO);
    }

    #[test]
    fn debug_output_hides_passwords() {
        let text = format!("{:?}", Password::Plain(b"hunter2".to_vec()));
        assert!(!text.contains("hunter2"));
    }
}
